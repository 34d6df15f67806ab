//! One span as the viewer stores and shows it, whatever format it came in.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Span kinds, numbered as in OTLP.
pub const KIND_NAMES: [&str; 6] = [
    "unspecified",
    "internal",
    "server",
    "client",
    "producer",
    "consumer",
];
pub const KIND_SERVER: u8 = 2;
pub const KIND_CLIENT: u8 = 3;
pub const KIND_PRODUCER: u8 = 4;
pub const KIND_CONSUMER: u8 = 5;

/// Status codes, numbered as in OTLP.
pub const STATUS_ERROR: u8 = 2;

/// A span: ids in lowercase hex, times in nanoseconds since the Unix epoch, attributes as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanRow {
    pub trace_id: String,
    pub span_id: String,
    pub parent_id: Option<String>,
    pub service: String,
    pub name: String,
    /// 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: u8,
    pub start_ns: i64,
    pub end_ns: i64,
    /// 0 unset, 1 ok, 2 error.
    pub status: u8,
    pub status_message: String,
    pub attributes: Map<String, Value>,
    pub events: Vec<EventRow>,
    pub links: Vec<LinkRow>,
    pub resource: Map<String, Value>,
    /// The instrumentation scope (library) that made the span.
    pub scope: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    pub time_ns: i64,
    pub name: String,
    pub attributes: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkRow {
    pub trace_id: String,
    pub span_id: String,
    pub attributes: Map<String, Value>,
}

impl SpanRow {
    pub fn duration_ns(&self) -> i64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    pub fn is_error(&self) -> bool {
        self.status == STATUS_ERROR
    }

    pub fn kind_name(&self) -> &'static str {
        KIND_NAMES
            .get(usize::from(self.kind))
            .copied()
            .unwrap_or("unspecified")
    }
}

/// Lowercase hex of raw id bytes; `None` for an empty or all-zero id (OTLP's "no parent").
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
