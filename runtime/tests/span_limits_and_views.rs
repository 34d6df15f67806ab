//! Span limits (the OpenTelemetry defaults and the builder's), unique attribute keys, and the
//! borrowed view exporters read batches through.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use traceweave::testing::Capture;
use traceweave::{
    ExportError, Exporter, Key, KeyValue, Resource, SpanBatch, SpanContext, SpanId, SpanLimits,
    SpanRecord, Status, StatusRef, TraceFlags, TraceId, Value, ValueRef,
};

fn keys(span: &SpanRecord) -> Vec<&str> {
    span.attributes.iter().map(|kv| kv.key.as_str()).collect()
}

#[test]
fn the_default_limits_are_the_specifications() {
    let spans = Capture::new()
        .run(|| {
            let mut span = traceweave::span("busy").start();
            for i in 0..130 {
                span.set_attribute(Key::from(format!("k{i}")), i as i64);
            }
            for i in 0..131 {
                span.add_event(format!("e{i}"), vec![]);
            }
            let attrs: Vec<KeyValue> = (0..129)
                .map(|i| KeyValue::new(format!("a{i}"), i as i64))
                .collect();
            span.add_event("wide", attrs);
            let link = SpanContext::new(
                TraceId::from_u128(1),
                SpanId::from_u64(2),
                TraceFlags::SAMPLED,
                true,
            );
            for _ in 0..129 {
                span.add_link(link, vec![]);
            }
        })
        .spans;
    let span = spans.named("busy").unwrap();
    assert_eq!(span.attributes.len(), 128);
    assert_eq!(span.dropped_attributes_count, 2);
    assert_eq!(span.attribute("k127"), Some(&Value::I64(127)));
    assert_eq!(span.attribute("k128"), None);
    assert_eq!(span.events.len(), 128);
    assert_eq!(span.dropped_events_count, 4);
    assert_eq!(span.links.len(), 128);
    assert_eq!(span.dropped_links_count, 1);
    assert_eq!(SpanLimits::default(), SpanLimits::DEFAULT);
}

#[test]
fn a_repeated_key_keeps_its_last_value_in_its_first_place() {
    let spans = Capture::new()
        .run(|| {
            let mut span = traceweave::span("repeat").start();
            // Inline (static key, primitive value), replaced inline.
            span.set_attribute("a", 1);
            span.set_attribute("b", "static");
            span.set_attribute("a", 2);
            // The same key given as an owned string, then a value that cannot live inline.
            span.set_attribute(Key::from(String::from("b")), true);
            span.set_attribute("a", String::from("owned"));
            span.set_attribute("c", 3.5);
            span.set_attribute("c", vec![1i64, 2]);
            span.set_attribute(Key::from(String::from("d")), 4);
            span.set_attribute("d", 5);
        })
        .spans;
    let span = spans.named("repeat").unwrap();
    assert_eq!(keys(span), ["a", "b", "c", "d"]);
    assert_eq!(span.attribute("a"), Some(&Value::from("owned")));
    assert_eq!(span.attribute("b"), Some(&Value::Bool(true)));
    assert_eq!(span.attribute("c"), Some(&Value::from(vec![1i64, 2])));
    assert_eq!(span.attribute("d"), Some(&Value::I64(5)));
    assert_eq!(span.dropped_attributes_count, 0);
}

#[test]
fn builder_limits_cut_counts_and_lengths() {
    let limits = SpanLimits::default()
        .with_attribute_count(2)
        .with_attribute_value_length(Some(3))
        .with_event_count(1)
        .with_link_count(0)
        .with_attributes_per_event(2)
        .with_attributes_per_link(1);
    let spans = Capture::new()
        .span_limits(limits)
        .run(|| {
            let mut span = traceweave::span("cut")
                .attribute("name", "日本語のテキスト")
                .start();
            span.set_attribute("list", vec!["abcdef", "xy"]);
            span.set_attribute("third", 3);
            span.set_attribute("name", String::from("replaced"));
            span.add_event(
                "e",
                vec![
                    KeyValue::new("x", "long value"),
                    KeyValue::new("y", 1),
                    KeyValue::new("x", "again"),
                    KeyValue::new("z", 2),
                ],
            );
            span.add_event("late", vec![]);
            span.add_link(
                SpanContext::new(
                    TraceId::from_u128(1),
                    SpanId::from_u64(2),
                    TraceFlags::SAMPLED,
                    false,
                ),
                vec![],
            );
        })
        .spans;
    let span = spans.named("cut").unwrap();
    assert_eq!(keys(span), ["name", "list"]);
    assert_eq!(span.attribute("name"), Some(&Value::from("rep")));
    assert_eq!(
        span.attribute("list"),
        Some(&Value::from(vec!["abc", "xy"]))
    );
    assert_eq!(span.dropped_attributes_count, 1);
    assert_eq!(span.events.len(), 1);
    assert_eq!(
        span.events[0].attributes,
        vec![KeyValue::new("x", "aga"), KeyValue::new("y", 1)]
    );
    assert_eq!(span.events[0].dropped_attributes_count, 1);
    assert_eq!(span.dropped_events_count, 1);
    assert!(span.links.is_empty());
    assert_eq!(span.dropped_links_count, 1);

    // A zero attribute limit keeps none, even of the inline kind.
    let spans = Capture::new()
        .span_limits(SpanLimits::DEFAULT.with_attribute_count(0))
        .run(|| {
            let mut span = traceweave::span("none").start();
            span.set_attribute("a", 1);
            span.set_attribute("b", "x");
        })
        .spans;
    let span = spans.named("none").unwrap();
    assert!(span.attributes.is_empty());
    assert_eq!(span.dropped_attributes_count, 2);
}

/// Checks every batch through the view against the owned copy, and keeps the copies.
#[derive(Clone, Default)]
struct ViewChecker(Arc<Mutex<Vec<SpanRecord>>>);

impl Exporter for ViewChecker {
    fn export(&mut self, batch: SpanBatch<'_>, _: &Resource) -> Result<(), ExportError> {
        let records = batch.to_records();
        assert_eq!(batch.len(), records.len());
        for (view, record) in batch.iter().zip(&records) {
            assert_eq!(view.trace_id(), record.trace_id);
            assert_eq!(view.span_id(), record.span_id);
            assert_eq!(view.parent_span_id(), record.parent_span_id);
            assert_eq!(view.name(), record.name);
            assert_eq!(view.kind(), record.kind);
            assert_eq!(view.start_time_unix_nano(), record.start_time_unix_nano);
            assert_eq!(view.end_time_unix_nano(), record.end_time_unix_nano);
            assert_eq!(view.trace_state(), &record.trace_state);
            assert_eq!(view.events(), record.events.as_slice());
            assert_eq!(view.links(), record.links.as_slice());
            assert_eq!(view.status(), StatusRef::from(&record.status));
            let attrs: Vec<KeyValue> = view
                .attributes()
                .map(|(k, v)| KeyValue::new(k.to_owned(), v.to_value()))
                .collect();
            assert_eq!(attrs, record.attributes);
            assert_eq!(view.to_record(), *record);
        }
        self.0.lock().unwrap().extend(records);
        Ok(())
    }
}

#[test]
fn exporters_read_batches_in_place_with_everything_converted() {
    let checker = ViewChecker::default();
    let tracer = traceweave::builder()
        .ignore_env()
        .exporter(checker.clone())
        .build();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    tracer.in_scope(|| {
        let mut root = traceweave::span("root").start();
        root.set_attribute("static", "s");
        root.set_attribute("n", 1);
        root.set_attribute("owned", String::from("o"));
        root.add_event("tick", vec![KeyValue::new("i", 1)]);
        root.set_status(Status::error("failed"));
        let child_ctx = root.context();
        std::thread::sleep(Duration::from_millis(2));
        let mut child = traceweave::span("child").parent(&child_ctx).start();
        child.update_name(format!("child-{}", 7));
        child.set_status(Status::Ok);
    });
    assert!(
        tracer
            .shutdown_with_timeout(Duration::from_secs(10))
            .is_ok()
    );
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let spans = checker.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 2);
    let root = spans.iter().find(|s| s.name == "root").unwrap();
    let child = spans.iter().find(|s| s.name == "child-7").unwrap();
    assert_eq!(child.parent_span_id, root.span_id);
    assert_eq!(child.status, Status::Ok);
    assert_eq!(root.status, Status::error("failed"));
    // Times are Unix nanoseconds (within a clock-calibration error of the wall clock), the
    // event's among them.
    let slack = 50_000_000;
    for t in [
        root.start_time_unix_nano,
        root.end_time_unix_nano,
        root.events[0].time_unix_nano,
    ] {
        assert!(
            t + slack >= before && t <= after + slack,
            "{t} not in {before}..{after}"
        );
    }
    assert!(root.events[0].time_unix_nano >= root.start_time_unix_nano);
    assert!(root.events[0].time_unix_nano <= root.end_time_unix_nano);
    assert!(root.duration_nanos() >= 2_000_000);
    assert_eq!(
        root.attributes,
        vec![
            KeyValue::new("static", "s"),
            KeyValue::new("n", 1),
            KeyValue::new("owned", "o"),
        ]
    );

    // The same view over owned records.
    let batch = SpanBatch::from_records(&spans);
    assert_eq!(batch.len(), 2);
    let view = batch.iter().find(|v| v.name() == "root").unwrap();
    assert_eq!(view.attribute("n"), Some(ValueRef::I64(1)));
    assert_eq!(view.status(), StatusRef::Error("failed"));
    assert_eq!(view.to_record(), *root);
}
