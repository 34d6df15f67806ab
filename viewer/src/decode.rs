//! Reading spans from the formats tracers write: OTLP protobuf, OTLP JSON (as the OTLP/HTTP
//! JSON encoding, traceweave's `FileExporter` and the OpenTelemetry Collector's file exporter
//! write it) and Zipkin v2 JSON. Every value is cut to [`IngestLimits`] as it is converted, and
//! a request's resource is decoded once and shared by its spans: what a request costs in memory
//! is a small multiple of its size, whatever it holds.

use std::io::Read;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use serde_json::{Map, Value};

use crate::model::{EventRow, IngestLimits, LinkRow, SpanRow, cut, hex_id};

/// Why a body or file could not be read; the message names what was wrong.
///
/// ```
/// use traceweave_view::decode::zipkin;
/// let err = zipkin(&serde_json::json!({"not": "an array"}), &Default::default()).unwrap_err();
/// assert!(!err.0.is_empty());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

fn err(msg: impl Into<String>) -> DecodeError {
    DecodeError(msg.into())
}

/// A `Content-Encoding` the receivers undo.
///
/// ```
/// use traceweave_view::decode::ContentEncoding;
/// assert_eq!(ContentEncoding::from_header("gzip"), Ok(Some(ContentEncoding::Gzip)));
/// assert_eq!(ContentEncoding::from_header("zstd"), Ok(Some(ContentEncoding::Zstd)));
/// assert_eq!(ContentEncoding::from_header(""), Ok(None));
/// assert!(ContentEncoding::from_header("br").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    /// `gzip` (or `x-gzip`).
    Gzip,
    /// `zstd`, as the OpenTelemetry Collector's and traceweave's exporters send it.
    Zstd,
}

impl ContentEncoding {
    /// The encoding a `Content-Encoding` value (trimmed, lowercase) names: `None` for none or
    /// `identity`, the value back as the error for one not read here.
    pub fn from_header(value: &str) -> Result<Option<ContentEncoding>, &str> {
        match value {
            "gzip" | "x-gzip" => Ok(Some(ContentEncoding::Gzip)),
            "zstd" => Ok(Some(ContentEncoding::Zstd)),
            "" | "identity" => Ok(None),
            other => Err(other),
        }
    }
}

impl std::fmt::Display for ContentEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ContentEncoding::Gzip => "gzip",
            ContentEncoding::Zstd => "zstd",
        })
    }
}

/// Why a compressed body was refused.
///
/// ```
/// use traceweave_view::decode::{ContentEncoding, InflateError, inflate};
/// let err = inflate(ContentEncoding::Gzip, b"not gzip", 1024).unwrap_err();
/// assert!(matches!(err, InflateError::Bad { .. }));
/// assert!(err.to_string().starts_with("bad gzip body"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum InflateError {
    /// It inflates past the limit (bytes): reading stopped there.
    #[error(
        "the {encoding} body inflates past {} MiB, the limit: send smaller batches \
         (OTEL_BSP_MAX_EXPORT_BATCH_SIZE) or raise --max-body-mib",
        .limit >> 20
    )]
    TooLarge {
        /// How it was compressed.
        encoding: ContentEncoding,
        /// The limit, bytes.
        limit: usize,
    },
    /// It is not what its `Content-Encoding` says.
    #[error("bad {encoding} body: {why}")]
    Bad {
        /// How it claimed to be compressed.
        encoding: ContentEncoding,
        /// What the decompressor said.
        why: String,
    },
}

/// Undoes a `Content-Encoding`, reading at most `limit` inflated bytes: a body that holds more
/// is refused as soon as it passes the limit, never inflated whole. A zstd frame may ask for a
/// window no larger than the limit's next power of two (the output could not use more).
///
/// ```
/// use std::io::Write;
/// use traceweave_view::decode::{ContentEncoding, InflateError, inflate};
/// let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
/// enc.write_all(&vec![b'x'; 1 << 20]).unwrap();
/// let bomb = enc.finish().unwrap(); // a few KiB that inflate to 1 MiB
/// assert!(bomb.len() < 8 << 10);
/// let gzip = ContentEncoding::Gzip;
/// assert!(matches!(inflate(gzip, &bomb, 64 << 10), Err(InflateError::TooLarge { .. })));
/// assert_eq!(inflate(gzip, &bomb, 2 << 20).unwrap().len(), 1 << 20);
///
/// let frame = zstd::encode_all(&vec![b'x'; 1 << 20][..], 3).unwrap();
/// let zstd = ContentEncoding::Zstd;
/// // Refused: its 1 MiB window is past a 64 KiB limit (had it fit, the output would not).
/// assert!(inflate(zstd, &frame, 64 << 10).is_err());
/// assert_eq!(inflate(zstd, &frame, 2 << 20).unwrap().len(), 1 << 20);
/// ```
pub fn inflate(
    encoding: ContentEncoding,
    body: &[u8],
    limit: usize,
) -> Result<Vec<u8>, InflateError> {
    let bad = |e: std::io::Error| InflateError::Bad {
        encoding,
        why: e.to_string(),
    };
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let cap = limit as u64 + 1;
    match encoding {
        ContentEncoding::Gzip => flate2::read::GzDecoder::new(body)
            .take(cap)
            .read_to_end(&mut out)
            .map_err(bad)?,
        ContentEncoding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(body).map_err(bad)?;
            // zstd's own bounds: windows from 1 KiB (log 10) to 128 MiB (log 27) by default.
            let window_log = limit
                .max(1)
                .next_power_of_two()
                .trailing_zeros()
                .clamp(10, 27);
            decoder.window_log_max(window_log).map_err(bad)?;
            decoder.take(cap).read_to_end(&mut out).map_err(bad)?
        }
    };
    if out.len() > limit {
        return Err(InflateError::TooLarge { encoding, limit });
    }
    Ok(out)
}

/// Cuts what passes [`IngestLimits`] and counts each cut.
struct Budget<'a> {
    limits: &'a IngestLimits,
    truncated: u32,
}

impl Budget<'_> {
    fn count(&mut self, n: usize) {
        self.truncated = self
            .truncated
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }

    fn name(&mut self, mut s: String) -> String {
        if cut(&mut s, self.limits.name_length) {
            self.count(1);
        }
        s
    }

    fn value(&mut self, mut s: String) -> String {
        if cut(&mut s, self.limits.value_length) {
            self.count(1);
        }
        s
    }

    /// A prefix of `s` within the value limit, copied.
    fn value_ref(&mut self, s: &str) -> String {
        if s.len() <= self.limits.value_length {
            return s.to_owned();
        }
        let mut owned = s[..floor_char(s, self.limits.value_length.saturating_mul(4))].to_owned();
        if cut(&mut owned, self.limits.value_length) || owned.len() < s.len() {
            self.count(1);
        }
        owned
    }

    /// A JSON string field as a name, copied no further than the limit keeps.
    fn name_ref(&mut self, v: Option<&Value>) -> String {
        let s = v.and_then(Value::as_str).unwrap_or_default();
        let mut owned = s[..floor_char(s, self.limits.name_length.saturating_mul(4))].to_owned();
        if cut(&mut owned, self.limits.name_length) || owned.len() < s.len() {
            self.count(1);
        }
        owned
    }

    fn key_ref(&mut self, s: &str) -> String {
        let mut owned = s[..floor_char(s, self.limits.key_length.saturating_mul(4))].to_owned();
        if cut(&mut owned, self.limits.key_length) || owned.len() < s.len() {
            self.count(1);
        }
        owned
    }

    /// At most `max` of `items`, the rest counted.
    fn take<T>(&mut self, mut items: Vec<T>, max: usize) -> Vec<T> {
        if items.len() > max {
            self.count(items.len() - max);
            items.truncate(max);
        }
        items
    }
}

/// The largest char boundary of `s` at or below `i`.
fn floor_char(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// An OTLP `ExportTraceServiceRequest` in protobuf.
///
/// ```
/// // The bytes traceweave's own exporter sends.
/// let spans = traceweave::testing::capture(|| traceweave::span("GET /orders").start().end());
/// let mut exporter = traceweave::export::OtlpExporter::new("http://unused:4318");
/// let body = exporter.encode(&spans.0, &traceweave::Resource::default()).to_vec();
/// let rows = traceweave_view::decode::otlp_protobuf(&body, &Default::default()).unwrap();
/// assert_eq!(rows[0].name, "GET /orders");
/// ```
pub fn otlp_protobuf(body: &[u8], limits: &IngestLimits) -> Result<Vec<SpanRow>, DecodeError> {
    let request = ExportTraceServiceRequest::decode(body)
        .map_err(|e| err(format!("not an OTLP ExportTraceServiceRequest: {e}")))?;
    let mut out = Vec::new();
    for rs in request.resource_spans {
        let mut shared = Budget {
            limits,
            truncated: 0,
        };
        let resource = rs
            .resource
            .map(|r| attributes(r.attributes, &mut shared, 0))
            .unwrap_or_default();
        let service = shared.name(service_of(&resource));
        let resource = Arc::new(resource);
        for ss in rs.scope_spans {
            let scope = shared.name(ss.scope.map(|s| s.name).unwrap_or_default());
            for s in ss.spans {
                let (Some(trace_id), Some(span_id)) =
                    (id_of(&s.trace_id, 16), id_of(&s.span_id, 8))
                else {
                    continue; // a span without valid ids cannot be placed in any trace
                };
                let mut b = Budget {
                    limits,
                    truncated: shared.truncated,
                };
                let status = s.status.unwrap_or_default();
                let events = b
                    .take(s.events, limits.events)
                    .into_iter()
                    .map(|e| EventRow {
                        time_ns: clamp_ns(e.time_unix_nano),
                        name: b.name(e.name),
                        attributes: attributes(e.attributes, &mut b, 0),
                    })
                    .collect();
                let links = b
                    .take(s.links, limits.links)
                    .into_iter()
                    .filter_map(|l| {
                        Some(LinkRow {
                            trace_id: id_of(&l.trace_id, 16)?,
                            span_id: id_of(&l.span_id, 8)?,
                            attributes: attributes(l.attributes, &mut b, 0),
                        })
                    })
                    .collect();
                let mut row = SpanRow {
                    trace_id,
                    span_id,
                    parent_id: id_of(&s.parent_span_id, 8),
                    service: service.clone(),
                    name: b.name(s.name),
                    kind: u8::try_from(s.kind).unwrap_or(0).min(5),
                    start_ns: clamp_ns(s.start_time_unix_nano),
                    end_ns: clamp_ns(s.end_time_unix_nano.max(s.start_time_unix_nano)),
                    status: u8::try_from(status.code).unwrap_or(0).min(2),
                    status_message: b.value(status.message),
                    attributes: attributes(s.attributes, &mut b, 0),
                    events,
                    links,
                    resource: resource.clone(),
                    scope: scope.clone(),
                    truncated: 0,
                };
                row.truncated = b.truncated;
                out.push(row);
            }
        }
    }
    out.iter_mut()
        .for_each(|s| s.redact_urls(limits.value_length));
    Ok(out)
}

/// An OTLP id: exactly `len` bytes, not all zero, in hex.
fn id_of(bytes: &[u8], len: usize) -> Option<String> {
    (bytes.len() == len).then(|| hex_id(bytes)).flatten()
}

fn clamp_ns(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}

fn service_of(resource: &Map<String, Value>) -> String {
    match resource.get("service.name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => "unknown_service".to_owned(),
    }
}

fn attributes(kvs: Vec<KeyValue>, b: &mut Budget<'_>, depth: usize) -> Map<String, Value> {
    let max = b.limits.attributes;
    b.take(kvs, max)
        .into_iter()
        .map(|kv| {
            let key = b.key_ref(&kv.key);
            let value = kv.value.map_or(Value::Null, |v| any(v, b, depth));
            (key, value)
        })
        .collect()
}

fn any(v: AnyValue, b: &mut Budget<'_>, depth: usize) -> Value {
    match v.value {
        None => Value::Null,
        Some(any_value::Value::StringValue(s)) => Value::String(b.value(s)),
        Some(any_value::Value::BoolValue(v)) => Value::Bool(v),
        Some(any_value::Value::IntValue(i)) => Value::from(i),
        Some(any_value::Value::DoubleValue(d)) => Value::from(d),
        Some(any_value::Value::BytesValue(bytes)) => {
            let max = b.limits.value_length / 2;
            if bytes.len() > max {
                b.count(1);
            }
            Value::String(hex_id(&bytes[..bytes.len().min(max)]).unwrap_or_default())
        }
        Some(any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_))
            if depth >= b.limits.depth =>
        {
            b.count(1);
            Value::Null
        }
        Some(any_value::Value::ArrayValue(a)) => {
            let max = b.limits.attributes;
            Value::Array(
                b.take(a.values, max)
                    .into_iter()
                    .map(|v| any(v, b, depth + 1))
                    .collect(),
            )
        }
        Some(any_value::Value::KvlistValue(l)) => Value::Object(attributes(l.values, b, depth + 1)),
        // Later OTLP versions index strings in a dictionary this request does not carry.
        #[allow(unreachable_patterns)]
        Some(_) => Value::Null,
    }
}

/// OTLP JSON: one `ExportTraceServiceRequest` object (`{"resourceSpans": [...]}`).
///
/// Accepts what real writers produce: ids in hex (the OTLP/JSON rule) or base64 (protobuf's
/// generic JSON mapping), 64-bit numbers as strings or numbers, enums as numbers or names,
/// camelCase or snake_case field names.
///
/// ```
/// let request = serde_json::json!({"resourceSpans": [{
///     "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]},
///     "scopeSpans": [{"spans": [{
///         "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7",
///         "name": "add item", "kind": 2,
///         "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000002000000",
///     }]}],
/// }]});
/// let spans = traceweave_view::decode::otlp_json(&request, &Default::default()).unwrap();
/// assert_eq!((spans[0].service.as_str(), spans[0].name.as_str()), ("cart", "add item"));
/// assert_eq!(spans[0].duration_ns(), 2_000_000);
/// ```
pub fn otlp_json(request: &Value, limits: &IngestLimits) -> Result<Vec<SpanRow>, DecodeError> {
    let resource_spans = field(request, "resourceSpans")
        .and_then(Value::as_array)
        .ok_or_else(|| err("not an OTLP JSON export request: no \"resourceSpans\" array"))?;
    let mut out = Vec::new();
    for rs in resource_spans {
        let mut shared = Budget {
            limits,
            truncated: 0,
        };
        let resource = field(rs, "resource")
            .map(|r| json_attributes(field(r, "attributes"), &mut shared, 0))
            .unwrap_or_default();
        let service = shared.name(service_of(&resource));
        let resource = Arc::new(resource);
        for ss in array(field(rs, "scopeSpans")) {
            let scope = shared.name_ref(field(ss, "scope").and_then(|s| field(s, "name")));
            for s in array(field(ss, "spans")) {
                let (Some(trace_id), Some(span_id)) = (
                    json_id(field(s, "traceId"), 16),
                    json_id(field(s, "spanId"), 8),
                ) else {
                    continue;
                };
                let mut b = Budget {
                    limits,
                    truncated: shared.truncated,
                };
                let start_ns = json_u64(field(s, "startTimeUnixNano"));
                let end_ns = json_u64(field(s, "endTimeUnixNano")).max(start_ns);
                let status = field(s, "status");
                let events: Vec<&Value> = array(field(s, "events")).collect();
                let events = b
                    .take(events, limits.events)
                    .into_iter()
                    .map(|e| EventRow {
                        time_ns: clamp_ns(json_u64(field(e, "timeUnixNano"))),
                        name: b.name_ref(field(e, "name")),
                        attributes: json_attributes(field(e, "attributes"), &mut b, 0),
                    })
                    .collect();
                let links: Vec<&Value> = array(field(s, "links")).collect();
                let links = b
                    .take(links, limits.links)
                    .into_iter()
                    .filter_map(|l| {
                        Some(LinkRow {
                            trace_id: json_id(field(l, "traceId"), 16)?,
                            span_id: json_id(field(l, "spanId"), 8)?,
                            attributes: json_attributes(field(l, "attributes"), &mut b, 0),
                        })
                    })
                    .collect();
                let mut row = SpanRow {
                    trace_id,
                    span_id,
                    parent_id: json_id(field(s, "parentSpanId"), 8),
                    service: service.clone(),
                    name: b.name_ref(field(s, "name")),
                    kind: json_enum(field(s, "kind"), "SPAN_KIND_", &KIND_ENUM).min(5),
                    start_ns: clamp_ns(start_ns),
                    end_ns: clamp_ns(end_ns),
                    status: status
                        .map(|st| json_enum(field(st, "code"), "STATUS_CODE_", &STATUS_ENUM))
                        .unwrap_or(0)
                        .min(2),
                    status_message: b.value_ref(
                        status
                            .and_then(|st| field(st, "message"))
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    ),
                    attributes: json_attributes(field(s, "attributes"), &mut b, 0),
                    events,
                    links,
                    resource: resource.clone(),
                    scope: scope.clone(),
                    truncated: 0,
                };
                row.truncated = b.truncated;
                out.push(row);
            }
        }
    }
    out.iter_mut()
        .for_each(|s| s.redact_urls(limits.value_length));
    Ok(out)
}

const KIND_ENUM: [&str; 6] = [
    "UNSPECIFIED",
    "INTERNAL",
    "SERVER",
    "CLIENT",
    "PRODUCER",
    "CONSUMER",
];
const STATUS_ENUM: [&str; 3] = ["UNSET", "OK", "ERROR"];

/// A field by its camelCase name, or its snake_case twin.
fn field<'a>(v: &'a Value, camel: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(camel).or_else(|| {
        let mut snake = String::with_capacity(camel.len() + 4);
        for c in camel.chars() {
            if c.is_ascii_uppercase() {
                snake.push('_');
                snake.push(c.to_ascii_lowercase());
            } else {
                snake.push(c);
            }
        }
        obj.get(&snake)
    })
}

fn array(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

fn json_u64(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().map(|f| f as u64))
            .unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn json_enum(v: Option<&Value>, prefix: &str, names: &[&str]) -> u8 {
    match v {
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u8::try_from(n).ok()).unwrap_or(0),
        Some(Value::String(s)) => {
            let s = s.strip_prefix(prefix).unwrap_or(s);
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(s))
                .and_then(|i| u8::try_from(i).ok())
                .unwrap_or(0)
        }
        _ => 0,
    }
}

/// An id of `len` bytes written in hex, or in base64.
fn json_id(v: Option<&Value>, len: usize) -> Option<String> {
    let s = v?.as_str()?;
    if s.len() == len * 2 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        let lower = s.to_ascii_lowercase();
        return (lower.bytes().any(|b| b != b'0')).then_some(lower);
    }
    let bytes = base64(s)?;
    if bytes.len() != len {
        return None;
    }
    hex_id(&bytes)
}

/// Hex ids of any length (Zipkin allows 64-bit trace ids: padded to 128 bits).
fn zipkin_id(v: Option<&Value>, len: usize) -> Option<String> {
    let s = v?.as_str()?;
    if s.is_empty() || s.len() > len * 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let padded = format!("{:0>width$}", s.to_ascii_lowercase(), width = len * 2);
    padded.bytes().any(|b| b != b'0').then_some(padded)
}

fn base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn json_attributes(v: Option<&Value>, b: &mut Budget<'_>, depth: usize) -> Map<String, Value> {
    let kvs: Vec<&Value> = array(v).collect();
    let max = b.limits.attributes;
    b.take(kvs, max)
        .into_iter()
        .filter_map(|kv| {
            let key = b.key_ref(field(kv, "key")?.as_str()?);
            Some((
                key,
                field(kv, "value").map_or(Value::Null, |v| json_any(v, b, depth)),
            ))
        })
        .collect()
}

/// A plain JSON value within the budget (a writer that put plain values, or Zipkin tags).
fn plain(v: &Value, b: &mut Budget<'_>, depth: usize) -> Value {
    match v {
        Value::String(s) => Value::String(b.value_ref(s)),
        Value::Array(_) | Value::Object(_) if depth >= b.limits.depth => {
            b.count(1);
            Value::Null
        }
        Value::Array(items) => {
            let items: Vec<&Value> = items.iter().collect();
            let max = b.limits.attributes;
            Value::Array(
                b.take(items, max)
                    .into_iter()
                    .map(|v| plain(v, b, depth + 1))
                    .collect(),
            )
        }
        Value::Object(map) => {
            let items: Vec<(&String, &Value)> = map.iter().collect();
            let max = b.limits.attributes;
            Value::Object(
                b.take(items, max)
                    .into_iter()
                    .map(|(k, v)| (b.key_ref(k), plain(v, b, depth + 1)))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

fn json_any(v: &Value, b: &mut Budget<'_>, depth: usize) -> Value {
    let Some(obj) = v.as_object() else {
        return plain(v, b, depth); // a writer that put the plain value
    };
    if let Some(s) = field(v, "stringValue") {
        return plain(s, b, depth);
    }
    if let Some(v) = field(v, "boolValue") {
        return plain(v, b, depth);
    }
    if let Some(i) = field(v, "intValue") {
        return match i {
            Value::String(s) => s
                .parse::<i64>()
                .map_or_else(|_| plain(i, b, depth), Value::from),
            other => plain(other, b, depth),
        };
    }
    if let Some(d) = field(v, "doubleValue") {
        return match d {
            Value::String(s) => s
                .parse::<f64>()
                .map_or_else(|_| plain(d, b, depth), Value::from),
            other => plain(other, b, depth),
        };
    }
    if let Some(v) = field(v, "bytesValue") {
        return plain(v, b, depth);
    }
    if depth >= b.limits.depth
        && (field(v, "arrayValue").is_some() || field(v, "kvlistValue").is_some())
    {
        b.count(1);
        return Value::Null;
    }
    if let Some(a) = field(v, "arrayValue") {
        let items: Vec<&Value> = array(field(a, "values")).collect();
        let max = b.limits.attributes;
        return Value::Array(
            b.take(items, max)
                .into_iter()
                .map(|v| json_any(v, b, depth + 1))
                .collect(),
        );
    }
    if let Some(l) = field(v, "kvlistValue") {
        return Value::Object(json_attributes(field(l, "values"), b, depth + 1));
    }
    if obj.is_empty() {
        return Value::Null;
    }
    plain(v, b, depth)
}

/// Zipkin v2 JSON: an array of spans.
///
/// ```
/// let request = serde_json::json!([{
///     "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7",
///     "name": "get /orders", "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64,
///     "duration": 1500, "localEndpoint": {"serviceName": "shop"},
/// }]);
/// let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
/// assert_eq!((spans[0].service.as_str(), spans[0].kind_name()), ("shop", "server"));
/// assert_eq!(spans[0].duration_ns(), 1_500_000);
/// ```
pub fn zipkin(spans: &Value, limits: &IngestLimits) -> Result<Vec<SpanRow>, DecodeError> {
    let spans = spans
        .as_array()
        .ok_or_else(|| err("not a Zipkin v2 JSON array of spans"))?;
    let mut out = Vec::with_capacity(spans.len());
    // One resource per service, shared by its spans.
    let mut resources: std::collections::HashMap<String, Arc<Map<String, Value>>> =
        std::collections::HashMap::new();
    for s in spans {
        let (Some(trace_id), Some(span_id)) = (
            zipkin_id(field(s, "traceId"), 16),
            zipkin_id(field(s, "id"), 8),
        ) else {
            continue;
        };
        let mut b = Budget {
            limits,
            truncated: 0,
        };
        let start_us = json_u64(field(s, "timestamp"));
        let duration_us = json_u64(field(s, "duration"));
        let mut attributes = match field(s, "tags").map(|t| plain(t, &mut b, 0)) {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let error = attributes.remove("error");
        let status_message = match &error {
            Some(Value::String(m)) => m.clone(),
            _ => String::new(),
        };
        let code = attributes
            .remove("otel.status_code")
            .and_then(|v| v.as_str().map(str::to_owned));
        let status = match (error.is_some(), code.as_deref()) {
            (true, _) | (_, Some("ERROR")) => 2,
            (_, Some("OK")) => 1,
            _ => 0,
        };
        let kind = match field(s, "kind").and_then(Value::as_str) {
            Some("SERVER") => 2,
            Some("CLIENT") => 3,
            Some("PRODUCER") => 4,
            Some("CONSUMER") => 5,
            _ => 1,
        };
        let service = field(s, "localEndpoint")
            .and_then(|e| field(e, "serviceName"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown_service");
        let service = b.name(service[..floor_char(service, limits.name_length * 4)].to_owned());
        if let Some(remote) = field(s, "remoteEndpoint").and_then(|e| field(e, "serviceName")) {
            if attributes.len() < limits.attributes {
                let key = b.key_ref("peer.service");
                let value = plain(remote, &mut b, 0);
                attributes.insert(key, value);
            } else {
                b.count(1);
            }
        }
        let resource = resources
            .entry(service.clone())
            .or_insert_with(|| {
                let mut resource = Map::new();
                resource.insert("service.name".into(), Value::String(service.clone()));
                Arc::new(resource)
            })
            .clone();
        let annotations: Vec<&Value> = array(field(s, "annotations")).collect();
        let events = b
            .take(annotations, limits.events)
            .into_iter()
            .map(|a| EventRow {
                time_ns: clamp_ns(json_u64(field(a, "timestamp")).saturating_mul(1000)),
                name: b.name_ref(field(a, "value")),
                attributes: Map::new(),
            })
            .collect();
        let mut row = SpanRow {
            trace_id,
            span_id,
            parent_id: zipkin_id(field(s, "parentId"), 8),
            service,
            name: b.name_ref(field(s, "name")),
            kind,
            start_ns: clamp_ns(start_us.saturating_mul(1000)),
            end_ns: clamp_ns((start_us.saturating_add(duration_us)).saturating_mul(1000)),
            status,
            status_message,
            attributes,
            events,
            links: Vec::new(),
            resource,
            scope: String::new(),
            truncated: 0,
        };
        row.truncated = b.truncated;
        out.push(row);
    }
    out.iter_mut()
        .for_each(|s| s.redact_urls(limits.value_length));
    Ok(out)
}

/// Any JSON document the viewer reads: an OTLP export request, or a Zipkin v2 array.
///
/// ```
/// use traceweave_view::decode::json_document;
/// let zipkin = serde_json::json!([{"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7",
///     "name": "get", "timestamp": 1_700_000_000_000_000u64, "duration": 1}]);
/// assert_eq!(json_document(&zipkin, &Default::default()).unwrap().len(), 1);
/// assert!(json_document(&serde_json::json!(42), &Default::default()).is_err());
/// ```
pub fn json_document(v: &Value, limits: &IngestLimits) -> Result<Vec<SpanRow>, DecodeError> {
    match v {
        Value::Array(_) => zipkin(v, limits),
        Value::Object(_) => otlp_json(v, limits),
        _ => Err(err(
            "neither an OTLP JSON export request nor a Zipkin v2 array",
        )),
    }
}

/// A file: one JSON document, or JSON lines (one OTLP request or Zipkin array per line).
///
/// ```
/// use traceweave_view::decode::file_contents;
/// // JSON lines, as traceweave's file exporter writes them: one request per line.
/// let line = r#"[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","id":"00f067aa0ba902b7","name":"a","timestamp":1700000000000000,"duration":1}]"#;
/// let rows = file_contents(&format!("{line}\n{line}\n"), &Default::default()).unwrap();
/// assert_eq!(rows.len(), 2);
/// ```
pub fn file_contents(text: &str, limits: &IngestLimits) -> Result<Vec<SpanRow>, DecodeError> {
    if let Ok(whole) = serde_json::from_str::<Value>(text) {
        return json_document(&whole, limits);
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| err(format!("line {}: not JSON: {e}", n + 1)))?;
        out.extend(json_document(&v, limits).map_err(|e| err(format!("line {}: {e}", n + 1)))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_hex_or_base64() {
        let hex = Value::from("0AF7651916CD43DD8448EB211C80319C");
        assert_eq!(
            json_id(Some(&hex), 16).as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        let b64 = Value::from("CvdlGRbNQ92ESOshHIAxnA==");
        assert_eq!(
            json_id(Some(&b64), 16).as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        assert_eq!(json_id(Some(&Value::from("00000000")), 4), None);
        assert_eq!(json_id(Some(&Value::from("short")), 16), None);
    }

    #[test]
    fn zipkin_spans_with_short_ids_and_error_tags() {
        let doc: Value = serde_json::json!([{
            "traceId": "463ac35c9f6413ad", "id": "a2fb4a1d1a96d312", "parentId": "0020000000000001",
            "name": "get /api", "kind": "SERVER", "timestamp": 1_500_000, "duration": 250,
            "localEndpoint": {"serviceName": "api"}, "tags": {"error": "boom", "http.method": "GET"},
            "annotations": [{"timestamp": 1_500_100, "value": "cache miss"}]
        }]);
        let spans = zipkin(&doc, &IngestLimits::default()).unwrap();
        let s = &spans[0];
        assert_eq!(s.trace_id, "0000000000000000463ac35c9f6413ad");
        assert_eq!(s.parent_id.as_deref(), Some("0020000000000001"));
        assert_eq!((s.start_ns, s.end_ns), (1_500_000_000, 1_500_250_000));
        assert_eq!(
            (s.kind, s.status, s.status_message.as_str()),
            (2, 2, "boom")
        );
        assert_eq!(s.attributes["http.method"], "GET");
        assert_eq!(s.events[0].name, "cache miss");
    }

    #[test]
    fn otlp_json_with_names_strings_and_snake_case() {
        let doc: Value = serde_json::json!({"resource_spans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "py"}}]},
            "scopeSpans": [{"scope": {"name": "lib"}, "spans": [{
                "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
                "parentSpanId": "", "name": "op", "kind": "SPAN_KIND_CLIENT",
                "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": 1544712661000000000u64,
                "status": {"code": "STATUS_CODE_ERROR", "message": "down"},
                "attributes": [{"key": "n", "value": {"intValue": "42"}},
                               {"key": "ok", "value": {"boolValue": true}},
                               {"key": "xs", "value": {"arrayValue": {"values": [{"doubleValue": 1.5}]}}}]
            }]}]
        }]});
        let spans = otlp_json(&doc, &IngestLimits::default()).unwrap();
        let s = &spans[0];
        assert_eq!((s.service.as_str(), s.scope.as_str()), ("py", "lib"));
        assert_eq!((s.kind, s.status, s.parent_id.clone()), (3, 2, None));
        assert_eq!(s.duration_ns(), 1_000_000_000);
        assert_eq!(s.attributes["n"], 42);
        assert_eq!(s.attributes["ok"], true);
        assert_eq!(s.attributes["xs"], serde_json::json!([1.5]));
    }

    #[test]
    fn url_secrets_from_any_sdk_are_redacted_at_ingest() {
        let doc: Value = serde_json::json!([{
            "traceId": "463ac35c9f6413ad", "id": "a2fb4a1d1a96d312", "name": "get",
            "kind": "CLIENT", "timestamp": 1, "duration": 1,
            "tags": {"http.url": "https://u:p@s3.example/k?X-Amz-Signature=S1&part=2",
                     "url.query": "api_key=S2&page=1", "http.target": "/a?token=S3",
                     "error": "GET https://h/x?access_token=S4 failed"}
        }]);
        let s = &zipkin(&doc, &IngestLimits::default()).unwrap()[0];
        assert_eq!(
            s.attributes["http.url"],
            "https://REDACTED:REDACTED@s3.example/k?X-Amz-Signature=REDACTED&part=2"
        );
        assert_eq!(s.attributes["url.query"], "api_key=REDACTED&page=1");
        assert_eq!(s.attributes["http.target"], "/a?token=REDACTED");
        assert_eq!(s.status_message, "GET https://h/x failed");
    }

    /// One 1 MiB `service.name` and 1,000 tiny spans: the resource is decoded once and shared,
    /// the service name cut, so the spans cost what they hold, not 1,000 copies of 1 MiB.
    #[test]
    fn an_amplifying_request_is_cut_and_shared() {
        use opentelemetry_proto::tonic::resource::v1::Resource;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        let big = "s".repeat(1 << 20);
        let kv = |k: &str, v: String| KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v)),
            }),
            ..Default::default()
        };
        let spans: Vec<Span> = (0..1000u32)
            .map(|i| Span {
                trace_id: vec![1; 16],
                span_id: (u64::from(i) + 1).to_be_bytes().to_vec(),
                name: "x".repeat(5000),
                attributes: (0..200).map(|a| kv(&format!("k{a}"), "v".into())).collect(),
                ..Default::default()
            })
            .collect();
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", big)],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let limits = IngestLimits::default();
        let rows = otlp_protobuf(&request.encode_to_vec(), &limits).unwrap();
        assert_eq!(rows.len(), 1000);
        for r in &rows {
            assert_eq!(r.service.chars().count(), limits.name_length);
            assert_eq!(r.name.chars().count(), limits.name_length);
            assert_eq!(r.attributes.len(), limits.attributes);
            assert!(
                Arc::ptr_eq(&r.resource, &rows[0].resource),
                "one resource, shared"
            );
            // The service name, the resource's value, the span name, 72 attributes.
            assert_eq!(r.truncated, 2 + 1 + 72);
        }
        assert_eq!(
            rows[0].resource["service.name"].as_str().unwrap().len(),
            limits.value_length
        );
    }

    #[test]
    fn gzip_stops_at_the_limit() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 64 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 1 << 20, "{} bytes hold 64 MiB", bomb.len());
        let gzip = ContentEncoding::Gzip;
        assert!(matches!(
            inflate(gzip, &bomb, 1 << 20),
            Err(InflateError::TooLarge { .. })
        ));
        assert_eq!(inflate(gzip, &bomb, 64 << 20).unwrap().len(), 64 << 20);
        assert!(matches!(
            inflate(gzip, b"not gzip", 1 << 20),
            Err(InflateError::Bad { .. })
        ));
    }

    #[test]
    fn zstd_stops_at_the_limit_and_refuses_windows_larger_than_it() {
        // A bomb: 64 MiB of zeros in a few KiB.
        let bomb = zstd::encode_all(&vec![0u8; 64 << 20][..], 19).unwrap();
        assert!(bomb.len() < 64 << 10, "{} bytes hold 64 MiB", bomb.len());
        let zstd = ContentEncoding::Zstd;
        let err = inflate(zstd, &bomb, 1 << 20).unwrap_err();
        // Refused either for its window (level 19 asks for 8 MiB) or at the limit: never
        // decoded past 1 MiB.
        assert!(
            matches!(
                err,
                InflateError::TooLarge { .. } | InflateError::Bad { .. }
            ),
            "{err}"
        );
        assert_eq!(inflate(zstd, &bomb, 64 << 20).unwrap().len(), 64 << 20);
        // A frame that declares a 128 MiB window, more than a 1 MiB limit allows.
        // Streamed (no content size in the header), so the window is what the decoder sizes.
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        enc.set_parameter(zstd::zstd_safe::CParameter::WindowLog(27))
            .unwrap();
        std::io::Write::write_all(&mut enc, &[7u8; 4096]).unwrap();
        let frame = enc.finish().unwrap();
        let err = inflate(zstd, &frame, 1 << 20).unwrap_err();
        assert!(err.to_string().starts_with("bad zstd body"), "{err}");
        assert_eq!(inflate(zstd, &frame, 256 << 20).unwrap(), vec![7u8; 4096]);
        let err = inflate(zstd, b"not zstd", 1 << 20).unwrap_err();
        assert!(err.to_string().starts_with("bad zstd body"), "{err}");
    }

    /// What the fuzzers found: ids of the wrong length became ids; redaction lengthened a cut
    /// value past the limit; Zipkin's `peer.service` was added past the attribute count.
    #[test]
    fn ids_lengths_and_counts_hold_after_every_step() {
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        let span = |trace: Vec<u8>, id: Vec<u8>, parent: Vec<u8>| Span {
            trace_id: trace,
            span_id: id,
            parent_span_id: parent,
            ..Default::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span(vec![1; 3], vec![1; 8], vec![]),
                        span(vec![1; 16], vec![1; 9], vec![]),
                        span(vec![1; 16], vec![2; 8], vec![3; 4]),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let rows = otlp_protobuf(&request.encode_to_vec(), &IngestLimits::default()).unwrap();
        assert_eq!(rows.len(), 1, "only the span with 16- and 8-byte ids");
        assert_eq!(rows[0].parent_id, None, "a 4-byte parent id is no parent");

        let small = IngestLimits {
            value_length: 20,
            attributes: 2,
            ..IngestLimits::default()
        };
        let doc: Value = serde_json::json!([{
            "traceId": "463ac35c9f6413ad", "id": "a2fb4a1d1a96d312", "name": "n",
            "remoteEndpoint": {"serviceName": "peer"},
            "tags": {"url.full": "https://h/p?token=secret-value", "b": "2"}
        }]);
        let s = &zipkin(&doc, &small).unwrap()[0];
        assert_eq!(s.attributes.len(), 2, "{:?}", s.attributes);
        assert!(!s.attributes.contains_key("peer.service"));
        let url = s.attributes["url.full"].as_str().unwrap();
        assert!(url.chars().count() <= 20 && !url.contains("secr"), "{url}");
        assert_eq!(s.truncated, 2, "the cut URL and the dropped peer.service");
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = file_contents(
            "{\"resourceSpans\": []}\nnot json\n",
            &IngestLimits::default(),
        )
        .unwrap_err();
        assert!(e.0.starts_with("line 2: not JSON"), "{e}");
    }
}
