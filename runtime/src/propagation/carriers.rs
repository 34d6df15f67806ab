//! Carriers: where the formats read and write their fields.

use std::collections::HashMap;

use super::{Extractor, Injector};

impl<S: std::hash::BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<&str> {
        if let Some(v) = HashMap::get(self, key) {
            return Some(v);
        }
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<String> {
        HashMap::keys(self)
            .map(|k| k.to_ascii_lowercase())
            .collect()
    }
}

impl<S: std::hash::BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, key: &str, value: String) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(key));
        self.insert(key.to_owned(), value);
    }
}

#[cfg(feature = "http")]
mod http_headers {
    use super::*;
    use http::{HeaderMap, HeaderName, HeaderValue};

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
}
