//! Header carriers: `http::HeaderMap` and `http::Request` as extractors and injectors of every
//! propagation format, and what `#[traced_rpc]` reads from a request.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::context::Context;
use crate::propagation::{Extractor, Injector, RpcCarrier};
use crate::semconv::attr;
use crate::span::Span;

impl Extractor for HeaderMap {
    fn get(&self, key: &str) -> Option<&str> {
        HeaderMap::get(self, key).and_then(|v| v.to_str().ok())
    }

    fn get_all(&self, key: &str) -> Vec<&str> {
        HeaderMap::get_all(self, key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    fn keys(&self) -> Vec<String> {
        HeaderMap::keys(self)
            .map(|k| k.as_str().to_owned())
            .collect()
    }
}

impl Injector for HeaderMap {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.insert(name, value);
        }
    }
}

impl<B> Extractor for http::Request<B> {
    fn get(&self, key: &str) -> Option<&str> {
        Extractor::get(self.headers(), key)
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        Extractor::get_all(self.headers(), key)
    }
    fn keys(&self) -> Vec<String> {
        Extractor::keys(self.headers())
    }
}

impl<B> Injector for http::Request<B> {
    fn set(&mut self, key: &str, value: String) {
        Injector::set(self.headers_mut(), key, value)
    }
}

impl RpcCarrier for HeaderMap {
    fn parent_context(&self) -> Context {
        crate::propagation::extract(self)
    }
}

impl<B> RpcCarrier for http::Request<B> {
    fn parent_context(&self) -> Context {
        crate::propagation::extract(self.headers())
    }
    fn describe(&self, span: &mut Span) {
        span.set_attribute(attr::HTTP_REQUEST_METHOD, self.method().as_str().to_owned());
        span.set_attribute(attr::URL_PATH, self.uri().path().to_owned());
        if let Some(scheme) = self.uri().scheme_str() {
            span.set_attribute(attr::URL_SCHEME, scheme.to_owned());
        }
    }
}
