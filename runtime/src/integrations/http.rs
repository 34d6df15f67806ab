//! HTTP (the `http` crate's types, so axum, hyper, tower, reqwest and tonic-web alike):
//! header carriers, what `#[traced_rpc]` reads from an `http::Request`, and how a handler's
//! response marks its span.

use std::fmt::Display;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::__private::{Outcome, ViaEcosystem};
use crate::context::Context;
use crate::propagation::{Extractor, Injector, RpcCarrier};
use crate::semconv::attr;
use crate::span::{Key, Span, Status};

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

/// Records the response status; 5xx marks a server span failed.
fn http_status(span: &mut Span, status: http::StatusCode) {
    if span.is_recording() {
        span.set_attribute(
            Key::from_static(attr::HTTP_RESPONSE_STATUS_CODE),
            i64::from(status.as_u16()),
        );
        if status.is_server_error() {
            span.set_status(Status::error(status.to_string()));
        }
    }
}

impl<B> ViaEcosystem for &&&Outcome<'_, http::Response<B>> {
    #[inline]
    fn __tw_outcome(&self, span: &mut Span) {
        http_status(span, self.0.status());
    }
}

impl ViaEcosystem for &&&Outcome<'_, http::StatusCode> {
    #[inline]
    fn __tw_outcome(&self, span: &mut Span) {
        http_status(span, *self.0);
    }
}

impl<T> ViaEcosystem for &&&Outcome<'_, (http::StatusCode, T)> {
    #[inline]
    fn __tw_outcome(&self, span: &mut Span) {
        http_status(span, self.0.0);
    }
}

impl<B, E: Display> ViaEcosystem for &&&Outcome<'_, Result<http::Response<B>, E>> {
    #[inline]
    fn __tw_outcome(&self, span: &mut Span) {
        match self.0 {
            Ok(r) => http_status(span, r.status()),
            Err(e) => {
                if span.is_recording() {
                    span.set_status(Status::error(e.to_string()));
                }
            }
        }
    }
}
