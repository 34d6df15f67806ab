//! Baggage: application key/value pairs that travel with the context, in and across processes.

use std::fmt;
use std::sync::Arc;

/// One baggage member.
///
/// ```
/// use std::collections::HashMap;
/// let headers = HashMap::from([("baggage".to_owned(), "tenant=acme;ttl=60".to_owned())]);
/// let cx = traceweave::extract(&headers);
/// let entry = cx.baggage().iter().next().unwrap();
/// assert_eq!((entry.key.as_str(), entry.value.as_str(), entry.metadata.as_str()), ("tenant", "acme", "ttl=60"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaggageEntry {
    /// The key.
    pub key: String,
    /// The value, decoded.
    pub value: String,
    /// Properties after the value (`;prop=1`), kept verbatim.
    pub metadata: String,
}

/// An immutable, cheaply cloned set of baggage members. Updates return a new value.
///
/// ```
/// use traceweave::{Baggage, Context};
/// let bag = Baggage::new().with("tenant", "acme");
/// let ctx = Context::current().with_baggage(bag);
/// ctx.run(|| assert_eq!(Context::current().baggage().get("tenant"), Some("acme")));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Baggage(Option<Arc<Vec<BaggageEntry>>>);

impl Baggage {
    /// Empty baggage.
    ///
    /// ```
    /// assert!(traceweave::Baggage::new().is_empty());
    /// ```
    pub const fn new() -> Self {
        Baggage(None)
    }

    /// A copy with `key` set to `value` (replacing an earlier value).
    ///
    /// ```
    /// use traceweave::Baggage;
    /// let baggage = Baggage::new().with("tenant", "acme").with("tenant", "globex");
    /// assert_eq!(baggage.get("tenant"), Some("globex")); // the later value wins
    /// assert_eq!(baggage.len(), 1);
    /// ```
    #[must_use]
    pub fn with(&self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.with_entry(BaggageEntry {
            key: key.into(),
            value: value.into(),
            metadata: String::new(),
        })
    }

    /// A copy with this entry set (replacing an entry with the same key).
    ///
    /// ```
    /// use traceweave::{Baggage, BaggageEntry};
    /// let entry = BaggageEntry { key: "tenant".into(), value: "acme".into(), metadata: "ttl=60".into() };
    /// let baggage = Baggage::new().with_entry(entry);
    /// assert_eq!(baggage.get("tenant"), Some("acme"));
    /// ```
    #[must_use]
    pub fn with_entry(&self, entry: BaggageEntry) -> Self {
        let mut entries: Vec<BaggageEntry> = self
            .iter()
            .filter(|e| e.key != entry.key)
            .cloned()
            .collect();
        entries.push(entry);
        Baggage(Some(Arc::new(entries)))
    }

    /// A copy with all of `entries` set, built in one pass (a later entry replaces an earlier
    /// one with the same key, as a sequence of [`Baggage::with_entry`] would).
    #[must_use]
    pub(crate) fn with_entries(&self, entries: Vec<BaggageEntry>) -> Self {
        if entries.is_empty() {
            return self.clone();
        }
        let mut last: std::collections::HashMap<&str, usize> =
            std::collections::HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            last.insert(e.key.as_str(), i);
        }
        let mut out: Vec<BaggageEntry> = self
            .iter()
            .filter(|e| !last.contains_key(e.key.as_str()))
            .cloned()
            .collect();
        let keep: Vec<bool> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| last.get(e.key.as_str()) == Some(&i))
            .collect();
        drop(last);
        out.extend(
            entries
                .into_iter()
                .zip(keep)
                .filter_map(|(e, keep)| keep.then_some(e)),
        );
        Baggage(Some(Arc::new(out)))
    }

    /// A copy without `key`.
    #[must_use]
    ///
    /// ```
    /// let bag = traceweave::Baggage::new().with("tenant", "acme").with("user", "42");
    /// let bag = bag.without("user");
    /// assert_eq!((bag.len(), bag.get("user")), (1, None));
    /// ```
    pub fn without(&self, key: &str) -> Self {
        let entries: Vec<BaggageEntry> = self.iter().filter(|e| e.key != key).cloned().collect();
        if entries.is_empty() {
            Baggage(None)
        } else {
            Baggage(Some(Arc::new(entries)))
        }
    }

    /// The value of `key`.
    ///
    /// ```
    /// use traceweave::Baggage;
    /// let baggage = Baggage::new().with("user.tier", "gold");
    /// assert_eq!(baggage.get("user.tier"), Some("gold"));
    /// assert_eq!(baggage.get("missing"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|e| e.key == key).map(|e| e.value.as_str())
    }

    /// The members in insertion order.
    ///
    /// ```
    /// let bag = traceweave::Baggage::new().with("tenant", "acme").with("region", "eu");
    /// let keys: Vec<&str> = bag.iter().map(|e| e.key.as_str()).collect();
    /// assert_eq!(keys, ["tenant", "region"]);
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, BaggageEntry> {
        match &self.0 {
            Some(entries) => entries.iter(),
            None => [].iter(),
        }
    }

    /// The number of members.
    ///
    /// ```
    /// use traceweave::Baggage;
    /// assert_eq!(Baggage::new().with("a", "1").with("b", "2").len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |e| e.len())
    }

    /// Whether there are no members.
    ///
    /// ```
    /// use traceweave::Baggage;
    /// assert!(Baggage::new().is_empty());
    /// assert!(!Baggage::new().with("a", "1").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

impl fmt::Debug for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|e| (&e.key, &e.value)))
            .finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Baggage {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        iter.into_iter()
            .fold(Baggage::new(), |bag, (k, v)| bag.with(k, v))
    }
}
