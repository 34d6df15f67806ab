//! Reading spans from the formats tracers write: OTLP protobuf, OTLP JSON (as the OTLP/HTTP
//! JSON encoding, traceweave's `FileExporter` and the OpenTelemetry Collector's file exporter
//! write it) and Zipkin v2 JSON.

use std::fmt;
use std::io::Read;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use serde_json::{Map, Value};

use crate::model::{EventRow, LinkRow, SpanRow, hex_id};

/// Why a body or file could not be read; the message names what was wrong.
#[derive(Debug)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

fn err(msg: impl Into<String>) -> DecodeError {
    DecodeError(msg.into())
}

/// Undoes `Content-Encoding: gzip`.
pub fn gunzip(body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(body.len() * 4);
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .map_err(|e| err(format!("bad gzip body: {e}")))?;
    Ok(out)
}

/// An OTLP `ExportTraceServiceRequest` in protobuf.
pub fn otlp_protobuf(body: &[u8]) -> Result<Vec<SpanRow>, DecodeError> {
    let request = ExportTraceServiceRequest::decode(body)
        .map_err(|e| err(format!("not an OTLP ExportTraceServiceRequest: {e}")))?;
    let mut out = Vec::new();
    for rs in request.resource_spans {
        let resource = rs
            .resource
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        let service = service_of(&resource);
        for ss in rs.scope_spans {
            let scope = ss.scope.map(|s| s.name).unwrap_or_default();
            for s in ss.spans {
                let (Some(trace_id), Some(span_id)) = (hex_id(&s.trace_id), hex_id(&s.span_id))
                else {
                    continue; // a span without ids cannot be placed in any trace
                };
                let status = s.status.unwrap_or_default();
                out.push(SpanRow {
                    trace_id,
                    span_id,
                    parent_id: hex_id(&s.parent_span_id),
                    service: service.clone(),
                    name: s.name,
                    kind: u8::try_from(s.kind).unwrap_or(0).min(5),
                    start_ns: clamp_ns(s.start_time_unix_nano),
                    end_ns: clamp_ns(s.end_time_unix_nano.max(s.start_time_unix_nano)),
                    status: u8::try_from(status.code).unwrap_or(0).min(2),
                    status_message: status.message,
                    attributes: attributes(&s.attributes),
                    events: s
                        .events
                        .into_iter()
                        .map(|e| EventRow {
                            time_ns: clamp_ns(e.time_unix_nano),
                            name: e.name,
                            attributes: attributes(&e.attributes),
                        })
                        .collect(),
                    links: s
                        .links
                        .into_iter()
                        .filter_map(|l| {
                            Some(LinkRow {
                                trace_id: hex_id(&l.trace_id)?,
                                span_id: hex_id(&l.span_id)?,
                                attributes: attributes(&l.attributes),
                            })
                        })
                        .collect(),
                    resource: resource.clone(),
                    scope: scope.clone(),
                });
            }
        }
    }
    Ok(out)
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

fn attributes(kvs: &[KeyValue]) -> Map<String, Value> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(Value::Null, any)))
        .collect()
}

fn any(v: &AnyValue) -> Value {
    match &v.value {
        None => Value::Null,
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::from(*d),
        Some(any_value::Value::BytesValue(b)) => Value::String(hex_id(b).unwrap_or_default()),
        Some(any_value::Value::ArrayValue(a)) => Value::Array(a.values.iter().map(any).collect()),
        Some(any_value::Value::KvlistValue(l)) => Value::Object(attributes(&l.values)),
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
pub fn otlp_json(request: &Value) -> Result<Vec<SpanRow>, DecodeError> {
    let resource_spans = field(request, "resourceSpans")
        .and_then(Value::as_array)
        .ok_or_else(|| err("not an OTLP JSON export request: no \"resourceSpans\" array"))?;
    let mut out = Vec::new();
    for rs in resource_spans {
        let resource = field(rs, "resource")
            .map(|r| json_attributes(field(r, "attributes")))
            .unwrap_or_default();
        let service = service_of(&resource);
        for ss in array(field(rs, "scopeSpans")) {
            let scope = field(ss, "scope")
                .and_then(|s| field(s, "name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            for s in array(field(ss, "spans")) {
                let (Some(trace_id), Some(span_id)) = (
                    json_id(field(s, "traceId"), 16),
                    json_id(field(s, "spanId"), 8),
                ) else {
                    continue;
                };
                let start_ns = json_u64(field(s, "startTimeUnixNano"));
                let end_ns = json_u64(field(s, "endTimeUnixNano")).max(start_ns);
                let status = field(s, "status");
                out.push(SpanRow {
                    trace_id,
                    span_id,
                    parent_id: json_id(field(s, "parentSpanId"), 8),
                    service: service.clone(),
                    name: str_of(field(s, "name")),
                    kind: json_enum(field(s, "kind"), "SPAN_KIND_", &KIND_ENUM).min(5),
                    start_ns: clamp_ns(start_ns),
                    end_ns: clamp_ns(end_ns),
                    status: status
                        .map(|st| json_enum(field(st, "code"), "STATUS_CODE_", &STATUS_ENUM))
                        .unwrap_or(0)
                        .min(2),
                    status_message: str_of(status.and_then(|st| field(st, "message"))),
                    attributes: json_attributes(field(s, "attributes")),
                    events: array(field(s, "events"))
                        .map(|e| EventRow {
                            time_ns: clamp_ns(json_u64(field(e, "timeUnixNano"))),
                            name: str_of(field(e, "name")),
                            attributes: json_attributes(field(e, "attributes")),
                        })
                        .collect(),
                    links: array(field(s, "links"))
                        .filter_map(|l| {
                            Some(LinkRow {
                                trace_id: json_id(field(l, "traceId"), 16)?,
                                span_id: json_id(field(l, "spanId"), 8)?,
                                attributes: json_attributes(field(l, "attributes")),
                            })
                        })
                        .collect(),
                    resource: resource.clone(),
                    scope: scope.clone(),
                });
            }
        }
    }
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

fn str_of(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_owned()
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

fn json_attributes(v: Option<&Value>) -> Map<String, Value> {
    array(v)
        .filter_map(|kv| {
            let key = field(kv, "key")?.as_str()?.to_owned();
            Some((key, field(kv, "value").map_or(Value::Null, json_any)))
        })
        .collect()
}

fn json_any(v: &Value) -> Value {
    let Some(obj) = v.as_object() else {
        return v.clone(); // a writer that put the plain value
    };
    if let Some(s) = field(v, "stringValue") {
        return s.clone();
    }
    if let Some(b) = field(v, "boolValue") {
        return b.clone();
    }
    if let Some(i) = field(v, "intValue") {
        return match i {
            Value::String(s) => s.parse::<i64>().map_or_else(|_| i.clone(), Value::from),
            other => other.clone(),
        };
    }
    if let Some(d) = field(v, "doubleValue") {
        return match d {
            Value::String(s) => s.parse::<f64>().map_or_else(|_| d.clone(), Value::from),
            other => other.clone(),
        };
    }
    if let Some(b) = field(v, "bytesValue") {
        return b.clone();
    }
    if let Some(a) = field(v, "arrayValue") {
        return Value::Array(array(field(a, "values")).map(json_any).collect());
    }
    if let Some(l) = field(v, "kvlistValue") {
        return Value::Object(json_attributes(field(l, "values")));
    }
    if obj.is_empty() {
        return Value::Null;
    }
    v.clone()
}

/// Zipkin v2 JSON: an array of spans.
pub fn zipkin(spans: &Value) -> Result<Vec<SpanRow>, DecodeError> {
    let spans = spans
        .as_array()
        .ok_or_else(|| err("not a Zipkin v2 JSON array of spans"))?;
    let mut out = Vec::with_capacity(spans.len());
    for s in spans {
        let (Some(trace_id), Some(span_id)) = (
            zipkin_id(field(s, "traceId"), 16),
            zipkin_id(field(s, "id"), 8),
        ) else {
            continue;
        };
        let start_us = json_u64(field(s, "timestamp"));
        let duration_us = json_u64(field(s, "duration"));
        let mut attributes: Map<String, Value> = field(s, "tags")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
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
            .unwrap_or("unknown_service")
            .to_owned();
        if let Some(remote) = field(s, "remoteEndpoint").and_then(|e| field(e, "serviceName")) {
            attributes.insert("peer.service".into(), remote.clone());
        }
        let mut resource = Map::new();
        resource.insert("service.name".into(), Value::String(service.clone()));
        out.push(SpanRow {
            trace_id,
            span_id,
            parent_id: zipkin_id(field(s, "parentId"), 8),
            service,
            name: str_of(field(s, "name")),
            kind,
            start_ns: clamp_ns(start_us.saturating_mul(1000)),
            end_ns: clamp_ns((start_us.saturating_add(duration_us)).saturating_mul(1000)),
            status,
            status_message,
            attributes,
            events: array(field(s, "annotations"))
                .map(|a| EventRow {
                    time_ns: clamp_ns(json_u64(field(a, "timestamp")).saturating_mul(1000)),
                    name: str_of(field(a, "value")),
                    attributes: Map::new(),
                })
                .collect(),
            links: Vec::new(),
            resource,
            scope: String::new(),
        });
    }
    Ok(out)
}

/// Any JSON document the viewer reads: an OTLP export request, or a Zipkin v2 array.
pub fn json_document(v: &Value) -> Result<Vec<SpanRow>, DecodeError> {
    match v {
        Value::Array(_) => zipkin(v),
        Value::Object(_) => otlp_json(v),
        _ => Err(err(
            "neither an OTLP JSON export request nor a Zipkin v2 array",
        )),
    }
}

/// A file: one JSON document, or JSON lines (one OTLP request or Zipkin array per line).
pub fn file_contents(text: &str) -> Result<Vec<SpanRow>, DecodeError> {
    if let Ok(whole) = serde_json::from_str::<Value>(text) {
        return json_document(&whole);
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| err(format!("line {}: not JSON: {e}", n + 1)))?;
        out.extend(json_document(&v).map_err(|e| err(format!("line {}: {e}", n + 1)))?);
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
        let spans = zipkin(&doc).unwrap();
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
        let spans = otlp_json(&doc).unwrap();
        let s = &spans[0];
        assert_eq!((s.service.as_str(), s.scope.as_str()), ("py", "lib"));
        assert_eq!((s.kind, s.status, s.parent_id.clone()), (3, 2, None));
        assert_eq!(s.duration_ns(), 1_000_000_000);
        assert_eq!(s.attributes["n"], 42);
        assert_eq!(s.attributes["ok"], true);
        assert_eq!(s.attributes["xs"], serde_json::json!([1.5]));
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = file_contents("{\"resourceSpans\": []}\nnot json\n").unwrap_err();
        assert!(e.0.starts_with("line 2: not JSON"), "{e}");
    }
}
