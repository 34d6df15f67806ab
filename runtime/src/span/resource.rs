//! The resource: what produced the spans.

use super::{KeyValue, Value};
use crate::semconv;

/// What produced the spans: service, instance, host and process facts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    attributes: Vec<KeyValue>,
}

impl Resource {
    /// A resource with exactly these attributes (later duplicates win).
    pub fn new(attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        let mut r = Resource::default();
        for kv in attributes {
            r.set(kv);
        }
        r
    }

    /// Sets one attribute, replacing an earlier value.
    pub fn set(&mut self, kv: KeyValue) {
        match self.attributes.iter_mut().find(|a| a.key == kv.key) {
            Some(slot) => *slot = kv,
            None => self.attributes.push(kv),
        }
    }

    /// The value of one attribute.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// `service.name`, or `unknown_service`.
    pub fn service_name(&self) -> &str {
        self.get(semconv::attr::SERVICE_NAME)
            .and_then(Value::as_str)
            .unwrap_or("unknown_service")
    }

    /// All attributes.
    pub fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
}
