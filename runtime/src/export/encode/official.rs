//! Our spans as the official OTLP types (`opentelemetry-proto`): what the gRPC exporter sends
//! (tonic's client takes the generated request), and the reference the written protobuf and
//! JSON (`protobuf`, `json`) are tested against.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue as PKeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource as PResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

use super::{flags, kind};
use crate::span::{
    Array, Event, KeyValue, Link, Resource, SpanBatch, SpanView, StatusRef, ValueRef,
};

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
    kvs.iter()
        .map(|kv| PKeyValue {
            key: kv.key.as_str().to_owned(),
            value: Some(any_value((&kv.value).into())),
            ..Default::default()
        })
        .collect()
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

/// One span as a message.
pub(crate) fn span(s: &SpanView<'_>) -> Span {
    let trace_state = s.trace_state();
    Span {
        trace_id: s.trace_id().to_bytes().to_vec(),
        span_id: s.span_id().to_bytes().to_vec(),
        trace_state: if trace_state.is_empty() {
            String::new()
        } else {
            trace_state.header()
        },
        parent_span_id: if s.parent_span_id().is_valid() {
            s.parent_span_id().to_bytes().to_vec()
        } else {
            Vec::new()
        },
        flags: flags(s.trace_flags().to_u8(), s.parent_is_remote()),
        name: s.name().to_owned(),
        kind: kind(s.kind()),
        start_time_unix_nano: s.start_time_unix_nano(),
        end_time_unix_nano: s.end_time_unix_nano(),
        attributes: s
            .attributes()
            .map(|(key, value)| PKeyValue {
                key: key.to_owned(),
                value: Some(any_value(value)),
                ..Default::default()
            })
            .collect(),
        dropped_attributes_count: s.dropped_attributes_count(),
        events: s.events().iter().map(event).collect(),
        dropped_events_count: s.dropped_events_count(),
        links: s.links().iter().map(link).collect(),
        dropped_links_count: s.dropped_links_count(),
        status: match s.status() {
            StatusRef::Unset => None,
            StatusRef::Ok => Some(Status {
                code: 1,
                message: String::new(),
            }),
            StatusRef::Error(message) => Some(Status {
                code: 2,
                message: message.to_owned(),
            }),
        },
    }
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

#[cfg(test)]
mod tests {
    //! The written protobuf is byte for byte what prost writes for the official types, and the
    //! written JSON reads back (through the official types' serde) as the same request, for
    //! any spans: every value type, empty and escaped strings, events, links, statuses,
    //! tracestate, remote parents, dropped counts, ids at their extremes.
    use std::borrow::Cow;

    use proptest::prelude::*;
    use prost::Message;

    use super::*;
    use crate::span::{Array, SpanKind, SpanRecord, Status as OurStatus, Value};
    use crate::{SpanId, TraceFlags, TraceId, TraceState};

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-z.]{1,12}",
            any::<String>(),
            Just("q\"uote\\ \n\t\u{1}\u{7f} é 😀".to_owned()),
        ]
    }

    fn double() -> impl Strategy<Value = f64> {
        // Non-finite doubles have their own test: NaN equals nothing, and the official types'
        // serde reads no "Infinity" (the protobuf JSON mapping's spelling, which we write).
        prop_oneof![
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            Just(0.0),
            Just(-0.0),
            Just(1e-300),
            Just(f64::MAX),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            prop_oneof![any::<i64>(), Just(0), Just(-1), Just(i64::MIN)].prop_map(Value::I64),
            double().prop_map(Value::F64),
            text().prop_map(|s| Value::Str(Cow::Owned(s))),
            prop::collection::vec(any::<bool>(), 0..4).prop_map(|v| Value::Array(Array::Bool(v))),
            prop::collection::vec(any::<i64>(), 0..4).prop_map(|v| Value::Array(Array::I64(v))),
            prop::collection::vec(double(), 0..4).prop_map(|v| Value::Array(Array::F64(v))),
            prop::collection::vec(text(), 0..4)
                .prop_map(|v| Value::Array(Array::Str(v.into_iter().map(Cow::Owned).collect()))),
        ]
    }

    fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
        prop::collection::vec(
            (text(), value()).prop_map(|(k, v)| KeyValue::new(k, v)),
            0..5,
        )
    }

    fn span_id() -> impl Strategy<Value = SpanId> {
        prop_oneof![Just(0), Just(u64::MAX), any::<u64>()].prop_map(SpanId::from_u64)
    }

    fn record() -> impl Strategy<Value = SpanRecord> {
        let ids = (
            prop_oneof![Just(1u128), Just(u128::MAX), any::<u128>()],
            span_id(),
            span_id(),
            any::<bool>(),
            any::<u8>(),
            prop_oneof![Just(""), Just("a=1"), Just("vendor@tenant=x_y,b=2")],
        );
        let body = (
            text(),
            0..5usize,
            any::<u64>(),
            any::<u64>(),
            attributes(),
            prop::collection::vec((text(), any::<u64>(), attributes(), 0..3u32), 0..3),
            prop::collection::vec(
                (
                    any::<u128>(),
                    span_id(),
                    attributes(),
                    any::<u8>(),
                    any::<bool>(),
                ),
                0..2,
            ),
            prop_oneof![
                Just(OurStatus::Unset),
                Just(OurStatus::Ok),
                text().prop_map(|m| OurStatus::Error { message: m.into() }),
            ],
            (0..3u32, 0..3u32, prop_oneof![Just(0u32), Just(u32::MAX)]),
        );
        (ids, body).prop_map(
            |(
                (trace, span, parent, remote, flags, state),
                (name, kind, start, end, attributes, events, links, status, dropped),
            )| {
                SpanRecord {
                    trace_id: TraceId::from_u128(trace),
                    span_id: span,
                    parent_span_id: parent,
                    parent_is_remote: remote,
                    trace_flags: TraceFlags::from_u8(flags),
                    trace_state: TraceState::parse(state).unwrap(),
                    name: name.into(),
                    kind: [
                        SpanKind::Internal,
                        SpanKind::Server,
                        SpanKind::Client,
                        SpanKind::Producer,
                        SpanKind::Consumer,
                    ][kind],
                    start_time_unix_nano: start,
                    end_time_unix_nano: end,
                    attributes,
                    events: events
                        .into_iter()
                        .map(|(name, time, attributes, dropped)| Event {
                            name: name.into(),
                            time_unix_nano: time,
                            attributes,
                            dropped_attributes_count: dropped,
                        })
                        .collect(),
                    links: links
                        .into_iter()
                        .map(|(trace, span, attributes, flags, remote)| Link {
                            trace_id: TraceId::from_u128(trace),
                            span_id: span,
                            trace_flags: TraceFlags::from_u8(flags),
                            is_remote: remote,
                            attributes,
                            dropped_attributes_count: 1,
                        })
                        .collect(),
                    status,
                    dropped_attributes_count: dropped.0,
                    dropped_events_count: dropped.1,
                    dropped_links_count: dropped.2,
                    sw8_trace_id: None,
                    sw8_parent: None,
                }
            },
        )
    }

    #[test]
    fn spans_whose_length_takes_one_to_four_bytes_are_written_as_prost_writes_them() {
        let template = crate::testing::Capture::new()
            .run(|| crate::span("s").start().end())
            .spans
            .0
            .remove(0);
        // Lengths of 1, 2, 3 and 4 varint bytes: the reserved two bytes shrink and grow.
        let spans: Vec<SpanRecord> = [0usize, 90, 200, 20_000, 3 << 20]
            .into_iter()
            .map(|n| {
                let mut s = template.clone();
                if n > 0 {
                    s.attributes = vec![KeyValue::new("k", "x".repeat(n))];
                }
                s
            })
            .collect();
        let resource = Resource::new([KeyValue::new("service.name", "x".repeat(300))]);
        let mut writer = super::super::protobuf::ProtobufWriter::default();
        for i in 0..spans.len() {
            let batch = SpanBatch::from_records(&spans[i..]);
            let expected = request(batch, &resource).encode_to_vec();
            assert!(
                writer.request(batch, &resource) == expected.as_slice(),
                "from span {i}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn written_protobuf_and_json_equal_the_official_types(
            spans in prop::collection::vec(record(), 0..6),
            resource in attributes(),
        ) {
            let resource = Resource::new(resource);
            let batch = SpanBatch::from_records(&spans);
            let official = request(batch, &resource);
            let mut writer = super::super::protobuf::ProtobufWriter::default();
            // Twice through one writer: the kept buffers leave nothing of the first batch.
            let _ = writer.request(SpanBatch::from_records(&spans[..spans.len() / 2]), &resource);
            let written = writer.request(batch, &resource);
            let expected = official.encode_to_vec();
            prop_assert_eq!(written, expected.as_slice());
            prop_assert_eq!(&ExportTraceServiceRequest::decode(written).unwrap(), &official);

            let mut json = Vec::new();
            super::super::json::request(&mut json, batch, &resource);
            let read: ExportTraceServiceRequest = serde_json::from_slice(&json)
                .map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&json))))?;
            prop_assert_eq!(read, official);
        }

        #[test]
        fn non_finite_doubles_are_written_as_prost_and_the_json_mapping_write_them(
            bits in any::<u64>(),
            which in 0..3usize,
        ) {
            let (value, text) = [
                (f64::from_bits(bits | 0x7ff0_0000_0000_0001), "NaN"),
                (f64::INFINITY, "Infinity"),
                (f64::NEG_INFINITY, "-Infinity"),
            ][which];
            let spans = crate::testing::Capture::new()
                .run(|| crate::span("n").attribute("x", value).start().end())
                .spans
                .0;
            let resource = Resource::default();
            let batch = SpanBatch::from_records(&spans);
            let mut writer = super::super::protobuf::ProtobufWriter::default();
            let expected = request(batch, &resource).encode_to_vec();
            prop_assert_eq!(writer.request(batch, &resource), expected.as_slice());
            let mut json = Vec::new();
            super::super::json::request(&mut json, batch, &resource);
            let json = String::from_utf8(json).unwrap();
            let wanted = format!(r#"{{"doubleValue":"{text}"}}"#);
            prop_assert!(json.contains(&wanted), "{}", json);
        }
    }
}
