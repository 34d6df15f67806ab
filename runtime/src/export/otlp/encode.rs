//! Our spans as the official OTLP types (`opentelemetry-proto`).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue as PKeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource as PResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

use crate::export::Resource;
use crate::span::{Array, KeyValue, SpanKind, SpanRecord, Status as OurStatus, Value};

/// `Span.flags`: the context's is-remote bit is known.
const HAS_IS_REMOTE: u32 = 0x100;
/// `Span.flags`: the parent (or link target) is remote.
const IS_REMOTE: u32 = 0x200;

fn any_value(v: &Value) -> AnyValue {
    use any_value::Value as V;
    let value = match v {
        Value::Bool(b) => V::BoolValue(*b),
        Value::I64(i) => V::IntValue(*i),
        Value::F64(f) => V::DoubleValue(*f),
        Value::Str(s) => V::StringValue(s.to_string()),
        Value::Array(a) => V::ArrayValue(ArrayValue {
            values: match a {
                Array::Bool(v) => v.iter().map(|b| any_value(&Value::Bool(*b))).collect(),
                Array::I64(v) => v.iter().map(|i| any_value(&Value::I64(*i))).collect(),
                Array::F64(v) => v.iter().map(|f| any_value(&Value::F64(*f))).collect(),
                Array::Str(v) => v
                    .iter()
                    .map(|s| any_value(&Value::Str(s.clone())))
                    .collect(),
            },
        }),
    };
    AnyValue { value: Some(value) }
}

pub(crate) fn attributes(kvs: &[KeyValue]) -> Vec<PKeyValue> {
    kvs.iter()
        .map(|kv| PKeyValue {
            key: kv.key.as_str().to_owned(),
            value: Some(any_value(&kv.value)),
            ..Default::default()
        })
        .collect()
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

pub(crate) fn span(s: &SpanRecord) -> Span {
    Span {
        trace_id: s.trace_id.to_bytes().to_vec(),
        span_id: s.span_id.to_bytes().to_vec(),
        trace_state: s.trace_state.header(),
        parent_span_id: if s.parent_span_id.is_valid() {
            s.parent_span_id.to_bytes().to_vec()
        } else {
            Vec::new()
        },
        flags: flags(s.trace_flags.to_u8(), s.parent_is_remote),
        name: s.name.to_string(),
        kind: kind(s.kind),
        start_time_unix_nano: s.start_time_unix_nano,
        end_time_unix_nano: s.end_time_unix_nano,
        attributes: attributes(&s.attributes),
        events: s
            .events
            .iter()
            .map(|e| span::Event {
                time_unix_nano: e.time_unix_nano,
                name: e.name.to_string(),
                attributes: attributes(&e.attributes),
                dropped_attributes_count: 0,
            })
            .collect(),
        links: s
            .links
            .iter()
            .map(|l| span::Link {
                trace_id: l.trace_id.to_bytes().to_vec(),
                span_id: l.span_id.to_bytes().to_vec(),
                attributes: attributes(&l.attributes),
                flags: flags(l.trace_flags.to_u8(), l.is_remote),
                ..Default::default()
            })
            .collect(),
        status: match &s.status {
            OurStatus::Unset => None,
            OurStatus::Ok => Some(Status {
                code: 1,
                ..Default::default()
            }),
            OurStatus::Error { message } => Some(Status {
                code: 2,
                message: message.to_string(),
            }),
        },
        ..Default::default()
    }
}

/// One export request: the resource, our instrumentation scope, the spans.
pub(crate) fn request(spans: &[SpanRecord], resource: &Resource) -> ExportTraceServiceRequest {
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
                spans: spans.iter().map(span).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}
