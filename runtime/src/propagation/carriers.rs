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
