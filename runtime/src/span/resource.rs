//! The resource: what produced the spans.

use super::{KeyValue, Value};
use crate::semconv;

/// What produced the spans: service, instance, host and process facts.
///
/// ```
/// use traceweave::{KeyValue, Resource};
/// let resource = Resource::new([
///     KeyValue::new("service.name", "checkout"),
///     KeyValue::new("deployment.environment.name", "staging"),
/// ]);
/// assert_eq!(resource.service_name(), "checkout");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    attributes: Vec<KeyValue>,
}

impl Resource {
    /// A resource with exactly these attributes (later duplicates win).
    ///
    /// ```
    /// use traceweave::{KeyValue, Resource};
    /// let resource = Resource::new([KeyValue::new("service.name", "cart")]);
    /// assert_eq!(resource.attributes().len(), 1);
    /// ```
    pub fn new(attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        let mut r = Resource::default();
        for kv in attributes {
            r.set(kv);
        }
        r
    }

    /// Sets one attribute, replacing an earlier value.
    ///
    /// ```
    /// use traceweave::{KeyValue, Resource};
    /// let mut resource = Resource::new([KeyValue::new("service.name", "cart")]);
    /// resource.set(KeyValue::new("service.name", "orders")); // replaces
    /// resource.set(KeyValue::new("service.version", "1.4.2")); // adds
    /// assert_eq!((resource.service_name(), resource.attributes().len()), ("orders", 2));
    /// ```
    pub fn set(&mut self, kv: KeyValue) {
        match self.attributes.iter_mut().find(|a| a.key == kv.key) {
            Some(slot) => *slot = kv,
            None => self.attributes.push(kv),
        }
    }

    /// The value of one attribute.
    ///
    /// ```
    /// use traceweave::{KeyValue, Resource};
    /// let resource = Resource::new([KeyValue::new("service.version", "1.4.2")]);
    /// assert_eq!(resource.get("service.version").and_then(|v| v.as_str()), Some("1.4.2"));
    /// assert!(resource.get("host.name").is_none());
    /// ```
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// `service.name`, or `unknown_service`.
    ///
    /// ```
    /// use traceweave::Resource;
    /// // The specification's fallback when no service.name is set.
    /// assert!(Resource::default().service_name().starts_with("unknown_service"));
    /// ```
    pub fn service_name(&self) -> &str {
        self.get(semconv::attr::SERVICE_NAME)
            .and_then(Value::as_str)
            .unwrap_or("unknown_service")
    }

    /// All attributes.
    ///
    /// ```
    /// use traceweave::{KeyValue, Resource};
    /// let resource = Resource::new([KeyValue::new("service.name", "cart")]);
    /// let keys: Vec<&str> = resource.attributes().iter().map(|kv| kv.key.as_str()).collect();
    /// assert_eq!(keys, ["service.name"]);
    /// ```
    pub fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
}
