//! traceweave as the OpenTelemetry API's tracer provider: spans of both APIs nested both ways
//! (sync, async, across threads), what the API sets reaching the span, traceweave's sampler
//! deciding, and contexts converted both ways, checked against the OpenTelemetry SDK's own
//! W3C propagators.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    FutureExt as _, Span as _, SpanKind as OtelKind, Status as OtelStatus, TraceContextExt as _,
    Tracer as _, TracerProvider as _, mark_span_as_active,
};
use opentelemetry::{Context as OtelContext, KeyValue as OtelKv};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use traceweave::integrations::opentelemetry::{TracerProvider, from_otel, install, to_otel};
use traceweave::testing::{Capture, capture, capture_async};
use traceweave::{
    AlwaysOff, Baggage, Context, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId,
    TraceState, Value, traced,
};

fn tracer() -> traceweave::integrations::opentelemetry::Tracer {
    TracerProvider::new().tracer("lib")
}

fn tree(spans: &traceweave::testing::Spans) -> String {
    // The scope attribute is on every OTel-API span: leave it out of the trees.
    spans.tree().replace(" otel.scope.name=\"lib\"", "")
}

#[traced]
fn traced_leaf() {}

#[traced]
fn traced_calls_otel() {
    tracer().in_span("otel.child", |_cx| traced_leaf());
}

#[test]
fn an_otel_span_inside_a_traced_fn_is_its_child_and_a_traced_fn_inside_it_is_its_child() {
    let spans = capture(traced_calls_otel);
    assert_eq!(
        tree(&spans),
        "└─ traced_calls_otel\n   └─ otel.child\n      └─ traced_leaf\n"
    );
}

#[test]
fn every_way_of_making_an_otel_span_current_is_seen() {
    let t = tracer();
    let spans = capture(|| {
        // Started, not attached: a child of the traced span, and nothing changes after.
        let outer = traceweave::span("outer").start().enter();
        let mut plain = t.start("plain");
        traced_leaf();
        plain.end();
        // mark_span_as_active
        {
            let _g = mark_span_as_active(t.start("marked"));
            traced_leaf();
        }
        // Context::attach of a context holding the span
        {
            let _g = OtelContext::current_with_span(t.start("attached")).attach();
            traced_leaf();
        }
        // Back to the traced span once the guard dropped.
        let _after = t.start("after");
        drop(outer);
    });
    assert_eq!(
        tree(&spans),
        "└─ outer\n   \
            ├─ plain\n   \
            ├─ traced_leaf\n   \
            ├─ marked\n   \
            │  └─ traced_leaf\n   \
            ├─ attached\n   \
            │  └─ traced_leaf\n   \
            └─ after\n"
    );
}

#[traced]
fn deep(n: u32) {
    if n > 0 {
        tracer().in_span(format!("otel{n}"), |_| deep(n - 1));
    }
}

#[test]
fn alternating_levels_nest_in_order() {
    let spans = capture(|| deep(2));
    assert_eq!(
        tree(&spans),
        "└─ deep\n   └─ otel2\n      └─ deep\n         └─ otel1\n            └─ deep\n"
    );
}

#[traced]
async fn traced_async_leaf() {
    tokio::task::yield_now().await;
}

#[traced]
async fn traced_async_calls_otel() {
    let t = tracer();
    let span = t.start("otel.async");
    let cx = OtelContext::current_with_span(span);
    async {
        tokio::task::yield_now().await;
        traced_async_leaf().await;
        // An OTel span started later in the same attached scope, after awaits.
        let _inner = tracer().start("otel.after_await");
    }
    .with_context(cx)
    .await;
    tokio::task::yield_now().await;
    let _sibling = t.start("otel.sibling");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nesting_holds_across_awaits_and_threads() {
    let spans = capture_async(async {
        let handle = traceweave::spawn(traced_async_calls_otel());
        handle.await.unwrap();
    })
    .await;
    assert_eq!(
        tree(&spans),
        "└─ traced_async_calls_otel\n   \
            ├─ otel.async\n   \
            │  ├─ traced_async_leaf\n   \
            │  └─ otel.after_await\n   \
            └─ otel.sibling\n"
    );
}

#[test]
fn the_global_provider_serves_third_party_crates() {
    install();
    let spans = capture(|| {
        let _outer = traceweave::span("request").start().enter();
        // What a library instrumented with the OpenTelemetry API does.
        let lib = opentelemetry::global::tracer("some-lib");
        lib.in_span("lib.call", |cx| {
            cx.span().set_attribute(OtelKv::new("lib.rows", 3));
            traced_leaf();
        });
    });
    assert_eq!(
        spans.tree(),
        "└─ request\n   └─ lib.call otel.scope.name=\"some-lib\" lib.rows=3\n      └─ traced_leaf\n"
    );
}

#[test]
fn what_the_api_sets_reaches_the_span() {
    let t = TracerProvider::new().tracer_with_scope(
        opentelemetry::InstrumentationScope::builder("db")
            .with_version("1.2")
            .build(),
    );
    let linked = opentelemetry::trace::SpanContext::new(
        opentelemetry::trace::TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        opentelemetry::trace::SpanId::from_hex("b7ad6b7169203331").unwrap(),
        opentelemetry::trace::TraceFlags::SAMPLED,
        true,
        Default::default(),
    );
    let start = SystemTime::now() - Duration::from_millis(250);
    let spans = capture(|| {
        let mut span = t
            .span_builder("SELECT")
            .with_kind(OtelKind::Client)
            .with_start_time(start)
            .with_attributes([
                OtelKv::new("db.system", "postgresql"),
                OtelKv::new("db.rows", 42i64),
                OtelKv::new("db.ratio", 0.5),
                OtelKv::new("db.cached", false),
                OtelKv::new(
                    "db.tables",
                    opentelemetry::Value::Array(
                        vec![opentelemetry::StringValue::from("a"), "b".into()].into(),
                    ),
                ),
            ])
            .with_links(vec![opentelemetry::trace::Link::with_context(
                linked.clone(),
            )])
            .start(&t);
        assert!(span.is_recording());
        span.add_event("retry", vec![OtelKv::new("attempt", 2)]);
        span.update_name("SELECT orders");
        span.set_status(OtelStatus::error("timeout"));
        span.set_status(OtelStatus::Unset);
        span.record_error(&std::io::Error::other("boom"));
        span.end();
        // Ended: further calls change nothing.
        span.set_attribute(OtelKv::new("late", true));
    });
    assert_eq!(spans.len(), 1);
    let s = &spans.0[0];
    assert_eq!(s.name, "SELECT orders");
    assert_eq!(s.kind, SpanKind::Client);
    assert_eq!(s.attribute("otel.scope.name"), Some(&Value::from("db")));
    assert_eq!(s.attribute("otel.scope.version"), Some(&Value::from("1.2")));
    assert_eq!(s.attribute("db.system"), Some(&Value::from("postgresql")));
    assert_eq!(s.attribute("db.rows"), Some(&Value::I64(42)));
    assert_eq!(s.attribute("db.ratio"), Some(&Value::F64(0.5)));
    assert_eq!(s.attribute("db.cached"), Some(&Value::Bool(false)));
    assert_eq!(s.attribute("db.tables"), Some(&Value::from(vec!["a", "b"])));
    assert_eq!(s.attribute("late"), None);
    assert_eq!(
        s.links[0].span_id,
        SpanId::from_bytes(linked.span_id().to_bytes())
    );
    let names: Vec<_> = s.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names, ["retry", "exception"]);
    // Unset after an error is ignored: the error stands.
    assert_eq!(s.status, Status::error("timeout"));
    // The explicit start time is kept (within the clock's calibration).
    let want = start.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    assert!(
        s.start_time_unix_nano.abs_diff(want) < 5_000_000,
        "{} vs {want}",
        s.start_time_unix_nano
    );
    assert!(s.duration_nanos() >= 200_000_000, "{}", s.duration_nanos());
}

#[test]
fn traceweaves_sampler_decides_for_otel_api_spans() {
    let t = tracer();
    let captured = Capture::new().sampler(AlwaysOff).run(|| {
        let span = t.start("dropped.root");
        assert!(!span.is_recording());
        let sc = span.span_context().clone();
        // An unsampled root still has an identity that propagates.
        assert!(sc.is_valid());
        assert!(!sc.is_sampled());
        let _g = mark_span_as_active(span);
        // Its children follow it, through either API.
        let child = t.start("dropped.child");
        assert!(!child.is_recording());
        assert_eq!(child.span_context().trace_id(), sc.trace_id());
        assert_eq!(
            Context::current().span_context().trace_id().to_bytes(),
            sc.trace_id().to_bytes()
        );
        traced_leaf();
    });
    assert!(captured.spans.is_empty(), "{}", captured.spans.tree());
}

fn headers_of(cx: &OtelContext) -> HashMap<String, String> {
    let mut headers = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut headers);
    BaggagePropagator::new().inject_context(cx, &mut headers);
    headers
}

#[test]
fn contexts_convert_both_ways_as_the_sdks_propagators_read_them() {
    let ours = Context::new()
        .with_span_context(SpanContext::new(
            TraceId::from_u128(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from_u64(0x00f0_67aa_0ba9_02b7),
            TraceFlags::SAMPLED,
            true,
        ))
        .with_trace_state(TraceState::parse("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7").unwrap())
        .with_baggage(
            Baggage::new()
                .with("tenant", "acme")
                .with("user", "ann lee"),
        );

    // Ours → OpenTelemetry: the SDK's propagators write what our injector writes.
    let cx = to_otel(&ours);
    let headers = headers_of(&cx);
    assert_eq!(
        headers["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(
        headers["tracestate"],
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    );
    let mut ours_headers = HashMap::new();
    traceweave::inject_context(&ours, &mut ours_headers);
    assert_eq!(ours_headers["traceparent"], headers["traceparent"]);
    let sorted = |b: &Baggage| {
        let mut v: Vec<_> = b.iter().map(|e| (e.key.clone(), e.value.clone())).collect();
        v.sort();
        v
    };
    assert_eq!(
        sorted(from_otel(&BaggagePropagator::new().extract(&headers)).baggage()),
        sorted(ours.baggage())
    );

    // OpenTelemetry → ours, from what the SDK's propagators extracted.
    let extracted = BaggagePropagator::new()
        .extract_with_context(&TraceContextPropagator::new().extract(&headers), &headers);
    let back: Context = (&extracted).into();
    assert_eq!(back.span_context(), ours.span_context());
    assert_eq!(back.trace_state().header(), ours.trace_state().header());
    assert_eq!(back.baggage().get("user"), Some("ann lee"));
    let again: OtelContext = back.into();
    let (mut a, mut b) = (headers_of(&again), headers.clone());
    // The SDK keeps baggage in a hash map: its members come out in any order.
    let members = |h: &mut HashMap<String, String>| {
        let mut m: Vec<String> = h["baggage"].split(',').map(str::to_owned).collect();
        m.sort();
        h.remove("baggage");
        m
    };
    assert_eq!(members(&mut a), members(&mut b));
    assert_eq!(a, b);

    // No span: none either way.
    assert!(!to_otel(&Context::new()).has_active_span());
    assert!(!from_otel(&OtelContext::new()).has_span());
}

#[test]
fn an_extracted_otel_context_is_an_explicit_parent() {
    let t = tracer();
    let mut headers = HashMap::new();
    headers.insert(
        "traceparent".to_owned(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
    );
    let remote = TraceContextPropagator::new().extract(&headers);
    let spans = capture(|| {
        let _local = traceweave::span("unrelated").start().enter();
        // What an OTel-instrumented server does with a request's headers.
        let server = t
            .span_builder("GET /orders")
            .with_kind(OtelKind::Server)
            .start_with_context(&t, &remote);
        let _g = mark_span_as_active(server);
        traced_leaf();
    });
    let server = spans.named("GET /orders").unwrap();
    assert_eq!(
        server.trace_id,
        TraceId::from_bytes(remote.span().span_context().trace_id().to_bytes())
    );
    assert_eq!(
        server.parent_span_id,
        SpanId::from_u64(0xb7ad_6b71_6920_3331)
    );
    assert!(server.parent_is_remote);
    assert_eq!(
        spans.named("traced_leaf").unwrap().parent_span_id,
        server.span_id
    );
    // And a traceweave span inside it injects its own id, in the OTel context's trace.
    assert_eq!(
        spans.named("traced_leaf").unwrap().trace_id,
        server.trace_id
    );
}

#[test]
fn the_current_ids_and_injection_follow_the_innermost_span() {
    let t = tracer();
    capture(|| {
        let _outer = traceweave::span("outer").start().enter();
        t.in_span("otel", |cx| {
            let id = cx.span().span_context().span_id().to_bytes();
            assert_eq!(Context::current().span_context().span_id().to_bytes(), id);
            let mut headers = HashMap::new();
            traceweave::inject(&mut headers);
            assert!(
                headers["traceparent"].contains(&format!("{:016x}", u64::from_be_bytes(id))),
                "{headers:?}"
            );
            // And the other way: an OTel propagator given our current context.
            // (The SDK's propagator writes only the sampled bit of the flags.)
            let h = headers_of(&to_otel(&Context::current()));
            assert_eq!(h["traceparent"][..53], headers["traceparent"][..53]);
        });
    });
}
