//! OTLP/JSON written straight from the collector's buffer, by the protobuf JSON mapping as
//! OTLP specifies it: camelCase field names, hex trace and span ids, enums as integers, 64-bit
//! integers as decimal strings, non-finite doubles as `"NaN"`/`"Infinity"`/`"-Infinity"`,
//! fields holding their default value left out. One request per call, into a kept buffer.

use std::io::Write as _;

use super::{flags, kind};
use crate::span::{
    Array, Event, KeyValue, Link, Resource, SpanBatch, SpanView, StatusRef, ValueRef,
};

/// Appends `s` as a JSON string.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
    out.push(b'"');
}

/// `,"name":` (or without the comma for a first field).
fn field(out: &mut Vec<u8>, first: &mut bool, name: &str) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

fn number(out: &mut Vec<u8>, first: &mut bool, name: &str, v: u64) {
    if v != 0 {
        field(out, first, name);
        let _ = write!(out, "{v}");
    }
}

/// A 64-bit integer field: a decimal string.
fn long(out: &mut Vec<u8>, first: &mut bool, name: &str, v: u64) {
    if v != 0 {
        field(out, first, name);
        let _ = write!(out, "\"{v}\"");
    }
}

fn text(out: &mut Vec<u8>, first: &mut bool, name: &str, v: &str) {
    if !v.is_empty() {
        field(out, first, name);
        string(out, v);
    }
}

fn double(out: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    } else {
        // `{:?}` prints the shortest text that reads back as the same double.
        let _ = write!(out, "{f:?}");
    }
}

fn value(out: &mut Vec<u8>, v: ValueRef<'_>) {
    match v {
        ValueRef::Str(s) => {
            out.extend_from_slice(b"{\"stringValue\":");
            string(out, s);
        }
        ValueRef::Bool(b) => {
            let _ = write!(out, "{{\"boolValue\":{b}");
        }
        ValueRef::I64(i) => {
            let _ = write!(out, "{{\"intValue\":\"{i}\"");
        }
        ValueRef::F64(f) => {
            out.extend_from_slice(b"{\"doubleValue\":");
            double(out, f);
        }
        ValueRef::Array(a) => {
            out.extend_from_slice(b"{\"arrayValue\":{\"values\":[");
            fn each<T>(out: &mut Vec<u8>, items: &[T], f: impl Fn(&T) -> ValueRef<'_>) {
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    value(out, f(x));
                }
            }
            match a {
                Array::Bool(v) => each(out, v, |b| ValueRef::Bool(*b)),
                Array::I64(v) => each(out, v, |i| ValueRef::I64(*i)),
                Array::F64(v) => each(out, v, |f| ValueRef::F64(*f)),
                Array::Str(v) => each(out, v, |s| ValueRef::Str(s)),
            }
            out.extend_from_slice(b"]}");
        }
    }
    out.push(b'}');
}

fn attributes<'a>(
    out: &mut Vec<u8>,
    first: &mut bool,
    name: &str,
    kvs: impl ExactSizeIterator<Item = (&'a str, ValueRef<'a>)>,
) {
    if kvs.len() == 0 {
        return;
    }
    field(out, first, name);
    out.push(b'[');
    for (i, (k, v)) in kvs.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        string(out, k);
        out.extend_from_slice(b",\"value\":");
        value(out, v);
        out.push(b'}');
    }
    out.push(b']');
}

fn pairs(kvs: &[KeyValue]) -> impl ExactSizeIterator<Item = (&str, ValueRef<'_>)> {
    kvs.iter().map(|kv| (kv.key.as_str(), (&kv.value).into()))
}

fn event(out: &mut Vec<u8>, e: &Event) {
    let first = &mut true;
    out.push(b'{');
    long(out, first, "timeUnixNano", e.time_unix_nano);
    text(out, first, "name", &e.name);
    attributes(out, first, "attributes", pairs(&e.attributes));
    number(
        out,
        first,
        "droppedAttributesCount",
        u64::from(e.dropped_attributes_count),
    );
    out.push(b'}');
}

fn link(out: &mut Vec<u8>, l: &Link) {
    let first = &mut true;
    out.push(b'{');
    field(out, first, "traceId");
    hex(out, &l.trace_id.to_bytes());
    field(out, first, "spanId");
    hex(out, &l.span_id.to_bytes());
    attributes(out, first, "attributes", pairs(&l.attributes));
    number(
        out,
        first,
        "droppedAttributesCount",
        u64::from(l.dropped_attributes_count),
    );
    number(
        out,
        first,
        "flags",
        u64::from(flags(l.trace_flags.to_u8(), l.is_remote)),
    );
    out.push(b'}');
}

fn list<T>(out: &mut Vec<u8>, first: &mut bool, name: &str, items: &[T], f: fn(&mut Vec<u8>, &T)) {
    if items.is_empty() {
        return;
    }
    field(out, first, name);
    out.push(b'[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        f(out, x);
    }
    out.push(b']');
}

fn span(out: &mut Vec<u8>, s: &SpanView<'_>) {
    let first = &mut true;
    out.push(b'{');
    field(out, first, "traceId");
    hex(out, &s.trace_id().to_bytes());
    field(out, first, "spanId");
    hex(out, &s.span_id().to_bytes());
    let trace_state = s.trace_state();
    if !trace_state.is_empty() {
        text(out, first, "traceState", &trace_state.header());
    }
    let parent = s.parent_span_id();
    if parent.is_valid() {
        field(out, first, "parentSpanId");
        hex(out, &parent.to_bytes());
    }
    number(
        out,
        first,
        "flags",
        u64::from(flags(s.trace_flags().to_u8(), s.parent_is_remote())),
    );
    text(out, first, "name", s.name());
    number(out, first, "kind", kind(s.kind()) as u64);
    long(out, first, "startTimeUnixNano", s.start_time_unix_nano());
    long(out, first, "endTimeUnixNano", s.end_time_unix_nano());
    attributes(out, first, "attributes", s.attributes());
    number(
        out,
        first,
        "droppedAttributesCount",
        u64::from(s.dropped_attributes_count()),
    );
    list(out, first, "events", s.events(), event);
    number(
        out,
        first,
        "droppedEventsCount",
        u64::from(s.dropped_events_count()),
    );
    list(out, first, "links", s.links(), link);
    number(
        out,
        first,
        "droppedLinksCount",
        u64::from(s.dropped_links_count()),
    );
    match s.status() {
        StatusRef::Unset => {}
        StatusRef::Ok => {
            field(out, first, "status");
            out.extend_from_slice(b"{\"code\":1}");
        }
        StatusRef::Error(message) => {
            field(out, first, "status");
            let first = &mut true;
            out.push(b'{');
            text(out, first, "message", message);
            number(out, first, "code", 2);
            out.push(b'}');
        }
    }
    out.push(b'}');
}

/// Appends one `ExportTraceServiceRequest` as JSON: the resource, our scope, the spans.
pub(crate) fn request(out: &mut Vec<u8>, spans: SpanBatch<'_>, resource: &Resource) {
    out.extend_from_slice(b"{\"resourceSpans\":[{\"resource\":{");
    attributes(out, &mut true, "attributes", pairs(resource.attributes()));
    out.extend_from_slice(b"},\"scopeSpans\":[{\"scope\":{\"name\":\"traceweave\",\"version\":");
    string(out, env!("CARGO_PKG_VERSION"));
    out.extend_from_slice(b"},\"spans\":[");
    for (i, s) in spans.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        span(out, &s);
    }
    out.extend_from_slice(b"]}]}]}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_json_reads_them() {
        for s in [
            "",
            "plain",
            "q\"uote\\",
            "tab\tnew\nline\r",
            "\u{1}\u{1f}",
            "é😀",
        ] {
            let mut out = Vec::new();
            string(&mut out, s);
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, s);
        }
    }
}
