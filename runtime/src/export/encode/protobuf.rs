//! OTLP protobuf written straight from the collector's buffer: no generated message is filled
//! in between, one pass over the spans into one buffer the exporter keeps across batches
//! (nested messages are length-prefixed: a span's length is filled in after its body).
//! Fields go in tag order and default values are left out, as prost writes them: the bytes
//! equal the official `opentelemetry-proto` types' encoding of the same spans (tested).

use super::{flags, kind};
use crate::span::{
    Array, Event, KeyValue, Link, Resource, SpanBatch, SpanView, StatusRef, ValueRef,
};

/// Wire types.
pub(crate) const VARINT: u32 = 0;
const FIXED64: u32 = 1;
pub(crate) const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// Bytes of `v` as a varint.
#[inline]
fn varint_len(v: u64) -> usize {
    // 7 bits a byte: ceil(bits / 7), with 0 taking one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    (bits * 9 + 64) / 64
}

#[inline]
pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

#[inline]
fn key_len(field: u32) -> usize {
    varint_len(u64::from(field << 3))
}

#[inline]
pub(crate) fn put_key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    put_varint(buf, u64::from((field << 3) | wire));
}

/// A length-delimited field holding `len` bytes.
#[inline]
fn len_field(field: u32, len: usize) -> usize {
    key_len(field) + varint_len(len as u64) + len
}

#[inline]
fn put_len(buf: &mut Vec<u8>, field: u32, len: usize) {
    put_key(buf, field, LEN);
    put_varint(buf, len as u64);
}

/// A string or bytes field, left out when empty.
#[inline]
fn bytes_field(field: u32, b: &[u8]) -> usize {
    if b.is_empty() {
        0
    } else {
        len_field(field, b.len())
    }
}

#[inline]
fn put_bytes(buf: &mut Vec<u8>, field: u32, b: &[u8]) {
    if !b.is_empty() {
        put_len(buf, field, b.len());
        buf.extend_from_slice(b);
    }
}

/// A varint field, left out when zero.
#[inline]
fn varint_field(field: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(field) + varint_len(v)
    }
}

#[inline]
fn put_varint_field(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_key(buf, field, VARINT);
        put_varint(buf, v);
    }
}

#[inline]
fn fixed64_field(field: u32, v: u64) -> usize {
    if v == 0 { 0 } else { key_len(field) + 8 }
}

#[inline]
fn put_fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_key(buf, field, FIXED64);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

#[inline]
fn fixed32_field(field: u32, v: u32) -> usize {
    if v == 0 { 0 } else { key_len(field) + 4 }
}

#[inline]
fn put_fixed32(buf: &mut Vec<u8>, field: u32, v: u32) {
    if v != 0 {
        put_key(buf, field, FIXED32);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// The length of an `AnyValue` message. A oneof member is written even when it holds its
/// default (`false`, `0`, `""`).
fn value_len(v: ValueRef<'_>) -> usize {
    match v {
        ValueRef::Str(s) => len_field(1, s.len()),
        ValueRef::Bool(_) => 2,
        ValueRef::I64(i) => 1 + varint_len(i as u64),
        ValueRef::F64(_) => 9,
        ValueRef::Array(a) => len_field(5, array_len(a)),
    }
}

/// The length of an `ArrayValue` message.
fn array_len(a: &Array) -> usize {
    fn each<T>(items: &[T], f: impl Fn(&T) -> ValueRef<'_>) -> usize {
        items.iter().map(|x| len_field(1, value_len(f(x)))).sum()
    }
    match a {
        Array::Bool(v) => each(v, |b| ValueRef::Bool(*b)),
        Array::I64(v) => each(v, |i| ValueRef::I64(*i)),
        Array::F64(v) => each(v, |f| ValueRef::F64(*f)),
        Array::Str(v) => each(v, |s| ValueRef::Str(s)),
    }
}

fn put_value(buf: &mut Vec<u8>, v: ValueRef<'_>) {
    match v {
        ValueRef::Str(s) => {
            put_len(buf, 1, s.len());
            buf.extend_from_slice(s.as_bytes());
        }
        ValueRef::Bool(b) => {
            put_key(buf, 2, VARINT);
            buf.push(u8::from(b));
        }
        ValueRef::I64(i) => {
            put_key(buf, 3, VARINT);
            put_varint(buf, i as u64);
        }
        ValueRef::F64(f) => {
            put_key(buf, 4, FIXED64);
            buf.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        ValueRef::Array(a) => {
            put_len(buf, 5, array_len(a));
            fn each<T>(buf: &mut Vec<u8>, items: &[T], f: impl Fn(&T) -> ValueRef<'_>) {
                for x in items {
                    let v = f(x);
                    put_len(buf, 1, value_len(v));
                    put_value(buf, v);
                }
            }
            match a {
                Array::Bool(v) => each(buf, v, |b| ValueRef::Bool(*b)),
                Array::I64(v) => each(buf, v, |i| ValueRef::I64(*i)),
                Array::F64(v) => each(buf, v, |f| ValueRef::F64(*f)),
                Array::Str(v) => each(buf, v, |s| ValueRef::Str(s)),
            }
        }
    }
}

/// The length of a `KeyValue` message (its value always present).
#[inline]
fn kv_len(key: &str, v: ValueRef<'_>) -> usize {
    bytes_field(1, key.as_bytes()) + len_field(2, value_len(v))
}

#[inline]
fn put_kv(buf: &mut Vec<u8>, field: u32, key: &str, v: ValueRef<'_>) {
    let value = value_len(v);
    put_len(
        buf,
        field,
        bytes_field(1, key.as_bytes()) + len_field(2, value),
    );
    put_bytes(buf, 1, key.as_bytes());
    put_len(buf, 2, value);
    put_value(buf, v);
}

/// Repeated `KeyValue`s in field `field`.
fn attributes_len<'a>(field: u32, kvs: impl Iterator<Item = (&'a str, ValueRef<'a>)>) -> usize {
    kvs.map(|(k, v)| len_field(field, kv_len(k, v))).sum()
}

fn put_attributes<'a>(
    buf: &mut Vec<u8>,
    field: u32,
    kvs: impl Iterator<Item = (&'a str, ValueRef<'a>)>,
) {
    for (k, v) in kvs {
        put_kv(buf, field, k, v);
    }
}

fn pairs(kvs: &[KeyValue]) -> impl Iterator<Item = (&str, ValueRef<'_>)> {
    kvs.iter().map(|kv| (kv.key.as_str(), (&kv.value).into()))
}

fn event_len(e: &Event) -> usize {
    fixed64_field(1, e.time_unix_nano)
        + bytes_field(2, e.name.as_bytes())
        + attributes_len(3, pairs(&e.attributes))
        + varint_field(4, u64::from(e.dropped_attributes_count))
}

fn put_event(buf: &mut Vec<u8>, e: &Event) {
    put_len(buf, 11, event_len(e));
    put_fixed64(buf, 1, e.time_unix_nano);
    put_bytes(buf, 2, e.name.as_bytes());
    put_attributes(buf, 3, pairs(&e.attributes));
    put_varint_field(buf, 4, u64::from(e.dropped_attributes_count));
}

fn link_len(l: &Link) -> usize {
    len_field(1, 16)
        + len_field(2, 8)
        + attributes_len(4, pairs(&l.attributes))
        + varint_field(5, u64::from(l.dropped_attributes_count))
        + fixed32_field(6, flags(l.trace_flags.to_u8(), l.is_remote))
}

fn put_link(buf: &mut Vec<u8>, l: &Link) {
    put_len(buf, 13, link_len(l));
    put_bytes(buf, 1, &l.trace_id.to_bytes());
    put_bytes(buf, 2, &l.span_id.to_bytes());
    put_attributes(buf, 4, pairs(&l.attributes));
    put_varint_field(buf, 5, u64::from(l.dropped_attributes_count));
    put_fixed32(buf, 6, flags(l.trace_flags.to_u8(), l.is_remote));
}

/// The length of a `Status` message, if the span has one.
fn status_len(s: StatusRef<'_>) -> Option<usize> {
    match s {
        StatusRef::Unset => None,
        StatusRef::Ok => Some(2),
        StatusRef::Error(message) => Some(bytes_field(2, message.as_bytes()) + 2),
    }
}

/// Opens a length-delimited field whose length is known only once its body is written: its
/// key, then `reserve` bytes for the length. Returns where the body starts.
#[inline]
fn open(buf: &mut Vec<u8>, field: u32, reserve: usize) -> usize {
    put_key(buf, field, LEN);
    buf.extend_from_slice(&[0; 10][..reserve]);
    buf.len()
}

/// Writes the length of the body that started at `body` (after `reserved` bytes) into its
/// place, moving the body when the length takes more or fewer bytes than reserved.
#[inline]
fn close(buf: &mut Vec<u8>, body: usize, reserved: usize) {
    let len = buf.len() - body;
    let n = varint_len(len as u64);
    if n > reserved {
        buf.extend_from_slice(&[0; 10][..n - reserved]);
        buf.copy_within(body..body + len, body + n - reserved);
    } else if n < reserved {
        buf.copy_within(body..body + len, body - (reserved - n));
        buf.truncate(buf.len() - (reserved - n));
    }
    let mut at = body - reserved;
    let mut v = len as u64;
    while v >= 0x80 {
        buf[at] = (v as u8) | 0x80;
        v >>= 7;
        at += 1;
    }
    buf[at] = v as u8;
}

/// Bytes reserved for a span's length: spans of 128 B to 16 KiB, most of them, need no move.
const SPAN_LEN_BYTES: usize = 2;

fn put_span(buf: &mut Vec<u8>, s: &SpanView<'_>) {
    let body = open(buf, 2, SPAN_LEN_BYTES);
    put_bytes(buf, 1, &s.trace_id().to_bytes());
    put_bytes(buf, 2, &s.span_id().to_bytes());
    let trace_state = s.trace_state();
    if !trace_state.is_empty() {
        put_len(buf, 3, trace_state.header_len());
        trace_state.write_header(buf);
    }
    let parent = s.parent_span_id();
    if parent.is_valid() {
        put_bytes(buf, 4, &parent.to_bytes());
    }
    put_bytes(buf, 5, s.name().as_bytes());
    put_varint_field(buf, 6, kind(s.kind()) as u64);
    put_fixed64(buf, 7, s.start_time_unix_nano());
    put_fixed64(buf, 8, s.end_time_unix_nano());
    put_attributes(buf, 9, s.attributes());
    put_varint_field(buf, 10, u64::from(s.dropped_attributes_count()));
    for e in s.events() {
        put_event(buf, e);
    }
    put_varint_field(buf, 12, u64::from(s.dropped_events_count()));
    for l in s.links() {
        put_link(buf, l);
    }
    put_varint_field(buf, 14, u64::from(s.dropped_links_count()));
    let status = s.status();
    if let Some(n) = status_len(status) {
        put_len(buf, 15, n);
        match status {
            StatusRef::Unset => {}
            StatusRef::Ok => put_varint_field(buf, 3, 1),
            StatusRef::Error(message) => {
                put_bytes(buf, 2, message.as_bytes());
                put_varint_field(buf, 3, 2);
            }
        }
    }
    put_fixed32(
        buf,
        16,
        flags(s.trace_flags().to_u8(), s.parent_is_remote()),
    );
    close(buf, body, SPAN_LEN_BYTES);
}

/// Our instrumentation scope's name and version.
const SCOPE_NAME: &str = "traceweave";
const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

fn scope_len() -> usize {
    bytes_field(1, SCOPE_NAME.as_bytes()) + bytes_field(2, SCOPE_VERSION.as_bytes())
}

/// Writes `ExportTraceServiceRequest`s into buffers kept across batches, so after the first
/// batches encoding allocates nothing. One pass over the spans: each span's length is filled
/// in once its body is written; the request's header (the lengths of the three enclosing
/// messages, the resource, our scope) goes last, into room left before the spans.
#[derive(Debug, Default)]
pub(crate) struct ProtobufWriter {
    buf: Vec<u8>,
    /// The request's header, written after the spans.
    header: Vec<u8>,
}

/// The largest header: three keys and 64-bit lengths, beyond the resource and the scope.
const HEADER_SLACK: usize = 3 * (1 + 10);

impl ProtobufWriter {
    /// The protobuf bytes of one export request: the resource, our scope, the spans.
    pub(crate) fn request(&mut self, spans: SpanBatch<'_>, resource: &Resource) -> &[u8] {
        let buf = &mut self.buf;
        buf.clear();
        let resource_len = attributes_len(1, pairs(resource.attributes()));
        let scope = scope_len();
        let room = HEADER_SLACK + len_field(1, resource_len) + len_field(1, scope);
        buf.resize(room, 0);
        for s in spans.iter() {
            put_span(buf, &s);
        }
        let spans_total = buf.len() - room;
        let scope_spans_len = len_field(1, scope) + spans_total;
        let resource_spans_len = len_field(1, resource_len) + len_field(2, scope_spans_len);
        let header = &mut self.header;
        header.clear();
        // ExportTraceServiceRequest.resource_spans
        put_len(header, 1, resource_spans_len);
        // ResourceSpans.resource
        put_len(header, 1, resource_len);
        put_attributes(header, 1, pairs(resource.attributes()));
        // ResourceSpans.scope_spans, and ScopeSpans.scope
        put_len(header, 2, scope_spans_len);
        put_len(header, 1, scope);
        put_bytes(header, 1, SCOPE_NAME.as_bytes());
        put_bytes(header, 2, SCOPE_VERSION.as_bytes());
        let start = room - header.len();
        buf[start..room].copy_from_slice(header);
        debug_assert_eq!(buf.len() - start, len_field(1, resource_spans_len));
        &buf[start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths_match_the_bytes_written() {
        for v in [
            0u64,
            1,
            127,
            128,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v), "{v}");
        }
    }
}
