//! One span as the viewer stores and shows it, whatever format it came in.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Span kinds, numbered as in OTLP.
///
/// ```
/// use traceweave_view::model::{KIND_NAMES, KIND_SERVER};
/// assert_eq!(KIND_NAMES[usize::from(KIND_SERVER)], "server");
/// ```
pub const KIND_NAMES: [&str; 6] = [
    "unspecified",
    "internal",
    "server",
    "client",
    "producer",
    "consumer",
];
/// `SpanRow::kind` of a server span.
///
/// ```
/// # let request = serde_json::json!([
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
/// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
/// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
/// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
/// #      "localEndpoint": {"serviceName": "gateway"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
/// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
/// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
/// # ]);
/// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
/// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
/// # store.insert(&spans).unwrap();
/// let server = spans.iter().find(|s| s.service == "inventory").unwrap();
/// assert_eq!(server.kind, traceweave_view::model::KIND_SERVER);
/// ```
pub const KIND_SERVER: u8 = 2;
/// `SpanRow::kind` of a client span.
///
/// ```
/// # let request = serde_json::json!([
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
/// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
/// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
/// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
/// #      "localEndpoint": {"serviceName": "gateway"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
/// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
/// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
/// # ]);
/// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
/// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
/// # store.insert(&spans).unwrap();
/// assert!(spans.iter().any(|s| s.kind == traceweave_view::model::KIND_CLIENT));
/// ```
pub const KIND_CLIENT: u8 = 3;
/// `SpanRow::kind` of a producer span.
///
/// ```
/// use traceweave_view::model::{KIND_NAMES, KIND_PRODUCER};
/// assert_eq!(KIND_NAMES[usize::from(KIND_PRODUCER)], "producer");
/// ```
pub const KIND_PRODUCER: u8 = 4;
/// `SpanRow::kind` of a consumer span.
///
/// ```
/// use traceweave_view::model::{KIND_CONSUMER, KIND_NAMES};
/// assert_eq!(KIND_NAMES[usize::from(KIND_CONSUMER)], "consumer");
/// ```
pub const KIND_CONSUMER: u8 = 5;

/// Status codes, numbered as in OTLP.
///
/// ```
/// # let request = serde_json::json!([
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
/// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
/// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
/// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
/// #      "localEndpoint": {"serviceName": "gateway"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
/// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
/// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
/// # ]);
/// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
/// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
/// # store.insert(&spans).unwrap();
/// let failed = spans.iter().find(|s| s.service == "inventory").unwrap();
/// assert_eq!(failed.status, traceweave_view::model::STATUS_ERROR);
/// ```
pub const STATUS_ERROR: u8 = 2;

/// A span: ids in lowercase hex, times in nanoseconds since the Unix epoch, attributes as JSON.
///
/// ```
/// # let request = serde_json::json!([
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
/// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
/// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
/// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
/// #      "localEndpoint": {"serviceName": "gateway"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
/// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
/// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
/// # ]);
/// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
/// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
/// # store.insert(&spans).unwrap();
/// let root = &spans[0];
/// assert_eq!((root.service.as_str(), root.name.as_str()), ("gateway", "post /checkout"));
/// assert_eq!(root.parent_id, None);
/// assert_eq!(root.attributes["http.route"], "/checkout");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanRow {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// The parent's span id; `None` for a root.
    pub parent_id: Option<String>,
    /// The resource's `service.name` (`unknown_service` when it has none).
    pub service: String,
    /// The span name, cut to the ingest limit.
    pub name: String,
    /// 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: u8,
    /// When it started.
    pub start_ns: i64,
    /// When it ended.
    pub end_ns: i64,
    /// 0 unset, 1 ok, 2 error.
    pub status: u8,
    /// The status message of a failed span (its URLs' queries removed).
    pub status_message: String,
    /// The span's attributes, cut to the ingest limits.
    pub attributes: Map<String, Value>,
    /// Its events, in order.
    pub events: Vec<EventRow>,
    /// Its links to other spans.
    pub links: Vec<LinkRow>,
    /// Shared by the spans of one request's resource: decoded once, never copied per span.
    pub resource: Arc<Map<String, Value>>,
    /// The instrumentation scope (library) that made the span.
    pub scope: String,
    /// Values cut and items dropped at ingest to fit [`IngestLimits`].
    #[serde(default)]
    pub truncated: u32,
}

/// What one span may carry into the store; past it, strings are cut (at a character boundary)
/// and items dropped, and the span counts each in [`SpanRow::truncated`]. The counts are the
/// OpenTelemetry span-limit defaults (128); lengths are the viewer's own (OpenTelemetry sets
/// none), so one request costs the store a bounded multiple of its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
///
/// ```
/// use traceweave_view::IngestLimits;
/// // A 10 KB span name is cut at ingest; what was cut is counted on the span (`truncated`).
/// let limits = IngestLimits { name_length: 64, ..IngestLimits::default() };
/// let request = serde_json::json!([{
///     "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7",
///     "name": "x".repeat(10_000), "timestamp": 1, "duration": 1,
/// }]);
/// let spans = traceweave_view::decode::zipkin(&request, &limits).unwrap();
/// assert_eq!(spans[0].name.chars().count(), 64);
/// ```
pub struct IngestLimits {
    /// Characters in a span, event, service or scope name.
    pub name_length: usize,
    /// Characters in an attribute key.
    pub key_length: usize,
    /// Characters in a string value (attributes, status message).
    pub value_length: usize,
    /// Attributes per span, per resource, per event and per link; items per array or map.
    pub attributes: usize,
    /// Events per span.
    pub events: usize,
    /// Links per span.
    pub links: usize,
    /// Nesting of arrays and maps inside a value.
    pub depth: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            name_length: 1024,
            key_length: 256,
            value_length: 4096,
            attributes: 128,
            events: 128,
            links: 128,
            depth: 4,
        }
    }
}

/// Cuts `s` to at most `max` characters; true when it did.
pub(crate) fn cut(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    match s.char_indices().nth(max) {
        Some((end, _)) => {
            s.truncate(end);
            true
        }
        None => false,
    }
}

/// An event of a span: a named, timestamped moment with attributes.
///
/// ```
/// let request = serde_json::json!([{
///     "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "charge",
///     "timestamp": 1_700_000_000_000_000u64, "duration": 10,
///     "annotations": [{"timestamp": 1_700_000_000_000_005u64, "value": "retry"}],
/// }]);
/// let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
/// assert_eq!(spans[0].events[0].name, "retry");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// When it happened.
    pub time_ns: i64,
    /// Its name (`exception` for a recorded error).
    pub name: String,
    /// Its attributes.
    pub attributes: Map<String, Value>,
}

/// A link from a span to another span (of this trace or another).
///
/// ```
/// use traceweave_view::model::LinkRow;
/// let link = LinkRow {
///     trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
///     span_id: "00f067aa0ba902b7".into(),
///     attributes: Default::default(),
/// };
/// assert_eq!(link.span_id.len(), 16);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkRow {
    /// The linked span's trace id.
    pub trace_id: String,
    /// The linked span's id.
    pub span_id: String,
    /// The link's attributes.
    pub attributes: Map<String, Value>,
}

/// Attributes whose values are URLs or their queries, in the current conventions and the older
/// ones other SDKs still send.
const URL_KEYS: [&str; 4] = ["url.full", "http.url", "url.query", "http.target"];

impl SpanRow {
    /// Replaces credentials and the values of sensitive query parameters (signatures, tokens,
    /// API keys) in URL attributes and the status message by `REDACTED`, by the same rules as
    /// traceweave's own clients: whatever SDK sent the span, the viewer neither stores nor
    /// shows them. Runs after values were cut (so a secret cut in half is still replaced), and
    /// cuts again to `value_length` what `REDACTED` lengthened.
    ///
    /// ```
    /// # let request = serde_json::json!([
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
    /// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
    /// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
    /// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
    /// #      "localEndpoint": {"serviceName": "gateway"}},
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
    /// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
    /// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
    /// # ]);
    /// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
    /// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
    /// # store.insert(&spans).unwrap();
    /// let mut span = spans[0].clone();
    /// span.attributes.insert("url.full".into(), "https://s3.example/a?X-Amz-Signature=f00d".into());
    /// span.redact_urls(1024);
    /// assert_eq!(span.attributes["url.full"], "https://s3.example/a?X-Amz-Signature=REDACTED");
    /// ```
    pub fn redact_urls(&mut self, value_length: usize) {
        let rules = traceweave::redact::UrlRedaction::new();
        for key in URL_KEYS {
            if let Some(Value::String(v)) = self.attributes.get_mut(key) {
                let redacted = if key == "url.query" {
                    rules.query(v)
                } else if key == "http.target" {
                    match v.split_once('?') {
                        Some((path, query)) => match rules.query(query) {
                            std::borrow::Cow::Owned(q) => format!("{path}?{q}").into(),
                            std::borrow::Cow::Borrowed(_) => continue,
                        },
                        None => continue,
                    }
                } else {
                    rules.url(v)
                };
                if let std::borrow::Cow::Owned(r) = redacted {
                    *v = r;
                    cut(v, value_length);
                }
            }
        }
        if let std::borrow::Cow::Owned(m) =
            traceweave::redact::strip_url_secrets(&self.status_message)
        {
            self.status_message = m;
            cut(&mut self.status_message, value_length);
        }
    }

    /// How long it took (0 for a span that ends before it starts).
    ///
    /// ```
    /// # let request = serde_json::json!([
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
    /// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
    /// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
    /// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
    /// #      "localEndpoint": {"serviceName": "gateway"}},
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
    /// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
    /// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
    /// # ]);
    /// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
    /// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
    /// # store.insert(&spans).unwrap();
    /// assert_eq!(spans[0].duration_ns(), 5_000_000); // Zipkin's 5000 µs
    /// ```
    pub fn duration_ns(&self) -> i64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// Whether it failed.
    ///
    /// ```
    /// # let request = serde_json::json!([
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
    /// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
    /// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
    /// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
    /// #      "localEndpoint": {"serviceName": "gateway"}},
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
    /// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
    /// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
    /// # ]);
    /// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
    /// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
    /// # store.insert(&spans).unwrap();
    /// assert!(spans.iter().find(|s| s.service == "inventory").unwrap().is_error());
    /// assert!(!spans[0].is_error());
    /// ```
    pub fn is_error(&self) -> bool {
        self.status == STATUS_ERROR
    }

    /// Its kind as a word (`server`, `client`...).
    ///
    /// ```
    /// # let request = serde_json::json!([
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
    /// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
    /// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
    /// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
    /// #      "localEndpoint": {"serviceName": "gateway"}},
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
    /// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
    /// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
    /// # ]);
    /// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
    /// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
    /// # store.insert(&spans).unwrap();
    /// assert_eq!(spans[1].kind_name(), "client");
    /// ```
    pub fn kind_name(&self) -> &'static str {
        KIND_NAMES
            .get(usize::from(self.kind))
            .copied()
            .unwrap_or("unspecified")
    }
}

/// Lowercase hex of raw id bytes; `None` for an empty or all-zero id (OTLP's "no parent").
///
/// ```
/// use traceweave_view::model::hex_id;
/// assert_eq!(hex_id(&[0, 0xf0, 0x67]).as_deref(), Some("00f067"));
/// assert_eq!(hex_id(&[0; 8]), None, "all zeros: no parent");
/// assert_eq!(hex_id(&[]), None);
/// ```
pub fn hex_id(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(|&b| b == 0) {
        return None;
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    Some(out)
}
