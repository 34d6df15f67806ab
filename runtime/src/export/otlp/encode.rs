//! Our spans as the official OTLP types (`opentelemetry-proto`), read straight from the
//! collector's buffer through [`SpanView`]s.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue as PKeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource as PResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

use crate::span::{
    Array, Event, KeyValue, Link, Resource, SpanBatch, SpanKind, SpanView, StatusRef, ValueRef,
};

/// `Span.flags`: the context's is-remote bit is known.
const HAS_IS_REMOTE: u32 = 0x100;
/// `Span.flags`: the parent (or link target) is remote.
const IS_REMOTE: u32 = 0x200;

fn any_value(v: ValueRef<'_>) -> AnyValue {
    use any_value::Value as V;
    let value = match v {
        ValueRef::Bool(b) => V::BoolValue(b),
        ValueRef::I64(i) => V::IntValue(i),
        ValueRef::F64(f) => V::DoubleValue(f),
        ValueRef::Str(s) => V::StringValue(s.to_owned()),
        ValueRef::Array(a) => V::ArrayValue(ArrayValue {
            values: match a {
                Array::Bool(v) => v.iter().map(|b| any_value(ValueRef::Bool(*b))).collect(),
                Array::I64(v) => v.iter().map(|i| any_value(ValueRef::I64(*i))).collect(),
                Array::F64(v) => v.iter().map(|f| any_value(ValueRef::F64(*f))).collect(),
                Array::Str(v) => v.iter().map(|s| any_value(ValueRef::Str(s))).collect(),
            },
        }),
    };
    AnyValue { value: Some(value) }
}

pub(crate) fn attributes(kvs: &[KeyValue]) -> Vec<PKeyValue> {
    let mut out = Vec::new();
    set_attributes(
        &mut out,
        kvs.iter().map(|kv| (kv.key.as_str(), (&kv.value).into())),
    );
    out
}

fn kind(k: SpanKind) -> i32 {
    match k {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn flags(trace_flags: u8, remote: bool) -> u32 {
    // Only the W3C bits we know (sampled, random) go out.
    u32::from(trace_flags & 0x03) | HAS_IS_REMOTE | if remote { IS_REMOTE } else { 0 }
}

fn event(e: &Event) -> span::Event {
    span::Event {
        time_unix_nano: e.time_unix_nano,
        name: e.name.to_string(),
        attributes: attributes(&e.attributes),
        dropped_attributes_count: e.dropped_attributes_count,
    }
}

fn link(l: &Link) -> span::Link {
    span::Link {
        trace_id: l.trace_id.to_bytes().to_vec(),
        span_id: l.span_id.to_bytes().to_vec(),
        attributes: attributes(&l.attributes),
        dropped_attributes_count: l.dropped_attributes_count,
        flags: flags(l.trace_flags.to_u8(), l.is_remote),
        ..Default::default()
    }
}

/// One span as a fresh message.
pub(crate) fn span(s: &SpanView<'_>) -> Span {
    let mut out = Span::default();
    fill(&mut out, s);
    out
}

/// One export request: the resource, our instrumentation scope, the spans.
pub(crate) fn request(spans: SpanBatch<'_>, resource: &Resource) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(PResource {
                attributes: attributes(resource.attributes()),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "traceweave".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                spans: spans.iter().map(|s| span(&s)).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Encodes batches into recycled generated messages: after the first batches, strings, byte
/// vectors and attribute lists keep their capacity, so encoding allocates almost nothing.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    request: ExportTraceServiceRequest,
    buf: Vec<u8>,
}

fn set_bytes(dst: &mut Vec<u8>, src: &[u8]) {
    dst.clear();
    dst.extend_from_slice(src);
}

fn set_str(dst: &mut String, src: &str) {
    dst.clear();
    dst.push_str(src);
}

fn set_value(dst: &mut Option<AnyValue>, v: ValueRef<'_>) {
    use any_value::Value as V;
    let slot = dst.get_or_insert_with(AnyValue::default);
    match (v, &mut slot.value) {
        (ValueRef::Str(s), Some(V::StringValue(old))) => set_str(old, s),
        (ValueRef::Str(s), _) => slot.value = Some(V::StringValue(s.to_owned())),
        (ValueRef::Bool(b), _) => slot.value = Some(V::BoolValue(b)),
        (ValueRef::I64(i), _) => slot.value = Some(V::IntValue(i)),
        (ValueRef::F64(f), _) => slot.value = Some(V::DoubleValue(f)),
        (other, _) => *slot = any_value(other),
    }
}

fn set_attributes<'a>(
    dst: &mut Vec<PKeyValue>,
    src: impl ExactSizeIterator<Item = (&'a str, ValueRef<'a>)>,
) {
    dst.truncate(src.len());
    for (i, (key, value)) in src.enumerate() {
        if i == dst.len() {
            dst.push(PKeyValue::default());
        }
        let slot = &mut dst[i];
        set_str(&mut slot.key, key);
        set_value(&mut slot.value, value);
    }
}

fn fill(dst: &mut Span, s: &SpanView<'_>) {
    set_bytes(&mut dst.trace_id, &s.trace_id().to_bytes());
    set_bytes(&mut dst.span_id, &s.span_id().to_bytes());
    if s.parent_span_id().is_valid() {
        set_bytes(&mut dst.parent_span_id, &s.parent_span_id().to_bytes());
    } else {
        dst.parent_span_id.clear();
    }
    let trace_state = s.trace_state();
    if trace_state.is_empty() {
        dst.trace_state.clear();
    } else {
        dst.trace_state = trace_state.header();
    }
    dst.flags = flags(s.trace_flags().to_u8(), s.parent_is_remote());
    set_str(&mut dst.name, s.name());
    dst.kind = kind(s.kind());
    dst.start_time_unix_nano = s.start_time_unix_nano();
    dst.end_time_unix_nano = s.end_time_unix_nano();
    set_attributes(&mut dst.attributes, s.attributes());
    dst.dropped_attributes_count = s.dropped_attributes_count();
    dst.dropped_events_count = s.dropped_events_count();
    dst.dropped_links_count = s.dropped_links_count();
    // Events and links are rare: fresh messages.
    if s.events().is_empty() {
        dst.events.clear();
    } else {
        dst.events = s.events().iter().map(event).collect();
    }
    if s.links().is_empty() {
        dst.links.clear();
    } else {
        dst.links = s.links().iter().map(link).collect();
    }
    match s.status() {
        StatusRef::Unset => dst.status = None,
        StatusRef::Ok => {
            let st = dst.status.get_or_insert_with(Status::default);
            st.code = 1;
            st.message.clear();
        }
        StatusRef::Error(message) => {
            let st = dst.status.get_or_insert_with(Status::default);
            st.code = 2;
            set_str(&mut st.message, message);
        }
    }
}

impl Encoder {
    /// The protobuf bytes of one export request for `spans`.
    pub(crate) fn protobuf(&mut self, spans: SpanBatch<'_>, resource: &Resource) -> &[u8] {
        use prost::Message;
        self.fill(spans, resource);
        self.buf.clear();
        // Encoding into a Vec cannot run out of room.
        let _ = self.request.encode(&mut self.buf);
        &self.buf
    }

    /// The export request for `spans`, in recycled messages.
    pub(crate) fn fill(
        &mut self,
        spans: SpanBatch<'_>,
        resource: &Resource,
    ) -> &ExportTraceServiceRequest {
        if self.request.resource_spans.is_empty() {
            self.request = request(SpanBatch::from_records(&[]), resource);
        }
        let rs = &mut self.request.resource_spans[0];
        let attrs = &mut rs.resource.get_or_insert_with(Default::default).attributes;
        let resource_attrs = resource.attributes();
        set_attributes(
            attrs,
            resource_attrs
                .iter()
                .map(|kv| (kv.key.as_str(), (&kv.value).into())),
        );
        let out = &mut rs.scope_spans[0].spans;
        out.truncate(spans.len());
        for (i, s) in spans.iter().enumerate() {
            if i == out.len() {
                out.push(Span::default());
            }
            fill(&mut out[i], &s);
        }
        &self.request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    use crate::span::{SpanRecord, Status as OurStatus};

    fn batch(n: usize, seed: usize) -> Vec<SpanRecord> {
        crate::testing::Capture::new()
            .run(|| {
                for i in 0..n {
                    let mut s = crate::span(if (i + seed).is_multiple_of(2) {
                        "even"
                    } else {
                        "odd-name"
                    })
                    .kind(if i % 3 == 0 {
                        SpanKind::Server
                    } else {
                        SpanKind::Internal
                    })
                    .start();
                    if (i + seed).is_multiple_of(2) {
                        s.set_attribute("a", "text");
                        s.set_attribute("b", i as i64);
                    } else {
                        s.set_attribute("c", true);
                        s.add_event("e", vec![]);
                        s.set_status(OurStatus::error("bad"));
                    }
                    if (i + seed).is_multiple_of(5) {
                        s.set_status(OurStatus::Ok);
                    }
                }
            })
            .spans
            .0
    }

    #[test]
    fn recycled_messages_encode_exactly_like_fresh_ones() {
        let resource = Resource::new([KeyValue::new("service.name", "x")]);
        let mut encoder = Encoder::default();
        for (n, seed) in [(5, 0), (2, 1), (7, 1), (0, 0), (3, 2)] {
            let spans = batch(n, seed);
            let spans = SpanBatch::from_records(&spans);
            let fresh = request(spans, &resource).encode_to_vec();
            assert_eq!(
                encoder.protobuf(spans, &resource),
                fresh.as_slice(),
                "n={n} seed={seed}"
            );
        }
    }
}
