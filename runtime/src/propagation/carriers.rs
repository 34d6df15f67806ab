//! Carriers: where the formats read and write their fields.

use std::collections::HashMap;

use super::{Extractor, Injector};

/// Keys are matched case-insensitively; `Traceparent` and `traceparent` in one map are two
/// values of one header (so, for the formats, an invalid duplicate). Extraction indexes a large
/// map once instead of scanning it per key.
impl<S: std::hash::BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<&str> {
        if let Some(v) = HashMap::get(self, key) {
            return Some(v);
        }
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn get_all(&self, key: &str) -> Vec<&str> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn entries(&self) -> Option<Vec<(&str, &str)>> {
        Some(self.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
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

#[cfg(feature = "tonic")]
mod grpc_metadata {
    use super::*;
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

    impl Extractor for MetadataMap {
        fn get(&self, key: &str) -> Option<&str> {
            Extractor::get(self.as_ref(), key)
        }
        fn get_all(&self, key: &str) -> Vec<&str> {
            Extractor::get_all(self.as_ref(), key)
        }
        fn keys(&self) -> Vec<String> {
            Extractor::keys(self.as_ref())
        }
    }

    impl Injector for MetadataMap {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(k), Ok(v)) = (
                MetadataKey::from_bytes(key.as_bytes()),
                MetadataValue::try_from(value.as_str()),
            ) {
                self.insert(k, v);
            }
        }
    }

    impl<T> Extractor for tonic::Request<T> {
        fn get(&self, key: &str) -> Option<&str> {
            Extractor::get(self.metadata(), key)
        }
        fn get_all(&self, key: &str) -> Vec<&str> {
            Extractor::get_all(self.metadata(), key)
        }
        fn keys(&self) -> Vec<String> {
            Extractor::keys(self.metadata())
        }
    }

    impl<T> Injector for tonic::Request<T> {
        fn set(&mut self, key: &str, value: String) {
            Injector::set(self.metadata_mut(), key, value)
        }
    }
}

#[cfg(feature = "amqp")]
mod amqp_headers {
    use super::*;
    use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

    fn as_str(v: &AMQPValue) -> Option<&str> {
        match v {
            AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok(),
            AMQPValue::ShortString(s) => Some(s.as_str()),
            _ => None,
        }
    }

    impl Extractor for FieldTable {
        fn get(&self, key: &str) -> Option<&str> {
            self.inner()
                .iter()
                .find(|(k, _)| k.as_str().eq_ignore_ascii_case(key))
                .and_then(|(_, v)| as_str(v))
        }
        fn get_all(&self, key: &str) -> Vec<&str> {
            self.inner()
                .iter()
                .filter(|(k, _)| k.as_str().eq_ignore_ascii_case(key))
                .filter_map(|(_, v)| as_str(v))
                .collect()
        }
        fn keys(&self) -> Vec<String> {
            self.inner()
                .keys()
                .map(|k| k.as_str().to_ascii_lowercase())
                .collect()
        }
        fn entries(&self) -> Option<Vec<(&str, &str)>> {
            Some(
                self.inner()
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str(), as_str(v)?)))
                    .collect(),
            )
        }
    }

    /// AMQP field names are short strings: a key over 255 bytes is not written (it would not
    /// fit the wire format; lapin's `ShortString` panics on it).
    impl Injector for FieldTable {
        fn set(&mut self, key: &str, value: String) {
            if key.is_empty() || key.len() > 255 {
                return;
            }
            self.insert(
                ShortString::from(key),
                AMQPValue::LongString(LongString::from(value)),
            );
        }
    }

    /// Message properties: their `headers` table (absent headers read as empty).
    impl Extractor for lapin::BasicProperties {
        fn get(&self, key: &str) -> Option<&str> {
            self.headers().as_ref().and_then(|h| Extractor::get(h, key))
        }
        fn get_all(&self, key: &str) -> Vec<&str> {
            self.headers()
                .as_ref()
                .map(|h| Extractor::get_all(h, key))
                .unwrap_or_default()
        }
        fn entries(&self) -> Option<Vec<(&str, &str)>> {
            Some(
                self.headers()
                    .as_ref()
                    .and_then(Extractor::entries)
                    .unwrap_or_default(),
            )
        }
        fn keys(&self) -> Vec<String> {
            self.headers()
                .as_ref()
                .map(Extractor::keys)
                .unwrap_or_default()
        }
    }

    impl Extractor for lapin::message::Delivery {
        fn get(&self, key: &str) -> Option<&str> {
            Extractor::get(&self.properties, key)
        }
        fn get_all(&self, key: &str) -> Vec<&str> {
            Extractor::get_all(&self.properties, key)
        }
        fn entries(&self) -> Option<Vec<(&str, &str)>> {
            Extractor::entries(&self.properties)
        }
        fn keys(&self) -> Vec<String> {
            Extractor::keys(&self.properties)
        }
    }
}

#[cfg(feature = "nats")]
mod nats_headers {
    use super::*;
    use async_nats::HeaderMap;

    impl Extractor for HeaderMap {
        fn get(&self, key: &str) -> Option<&str> {
            if let Some(v) = HeaderMap::get(self, key) {
                return Some(v.as_str());
            }
            self.iter()
                .find(|(k, _)| AsRef::<str>::as_ref(k).eq_ignore_ascii_case(key))
                .and_then(|(_, v)| v.first())
                .map(|v| v.as_str())
        }
        fn get_all(&self, key: &str) -> Vec<&str> {
            self.iter()
                .filter(|(k, _)| AsRef::<str>::as_ref(k).eq_ignore_ascii_case(key))
                .flat_map(|(_, v)| v.iter().map(|v| v.as_str()))
                .collect()
        }
        fn keys(&self) -> Vec<String> {
            self.iter()
                .map(|(k, _)| AsRef::<str>::as_ref(k).to_ascii_lowercase())
                .collect()
        }
        fn entries(&self) -> Option<Vec<(&str, &str)>> {
            Some(
                self.iter()
                    .flat_map(|(k, vs)| {
                        let k: &str = k.as_ref();
                        vs.iter().map(move |v| (k, v.as_str()))
                    })
                    .collect(),
            )
        }
    }

    impl Injector for HeaderMap {
        fn set(&mut self, key: &str, value: String) {
            // async-nats panics on invalid names; a value with a line break would end the
            // header block on the wire. Neither is written.
            if !key.is_empty()
                && key.bytes().all(|c| c.is_ascii_graphic() && c != b':')
                && !value.bytes().any(|c| c == b'\r' || c == b'\n')
            {
                self.insert(key, value.as_str());
            }
        }
    }

    impl Extractor for async_nats::Message {
        fn get(&self, key: &str) -> Option<&str> {
            self.headers.as_ref().and_then(|h| Extractor::get(h, key))
        }
        fn get_all(&self, key: &str) -> Vec<&str> {
            self.headers
                .as_ref()
                .map(|h| Extractor::get_all(h, key))
                .unwrap_or_default()
        }
        fn keys(&self) -> Vec<String> {
            self.headers
                .as_ref()
                .map(Extractor::keys)
                .unwrap_or_default()
        }
        fn entries(&self) -> Option<Vec<(&str, &str)>> {
            Some(
                self.headers
                    .as_ref()
                    .and_then(Extractor::entries)
                    .unwrap_or_default(),
            )
        }
    }
}
