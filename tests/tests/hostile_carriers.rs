//! Odd and hostile propagation input: a B3 "do not sample" without ids, debug carried on,
//! duplicate headers, Level 2 tracestate keys, thousands of headers, `uberctx-*` floods,
//! over-long AMQP keys and invalid baggage properties. Nothing panics, nothing is lost that
//! the specifications keep.

use std::collections::HashMap;

use lapin::types::FieldTable;
use traceweave::propagation::{
    B3Propagator, BaggagePropagator, CompositePropagator, JaegerPropagator, Propagator,
    TraceContextPropagator,
};
use traceweave::testing::Capture;
use traceweave::{Baggage, BaggageEntry, Context};

fn map(kv: &[(&str, &str)]) -> HashMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn a_b3_deny_without_ids_is_honoured_by_the_default_sampler() {
    for carrier in [map(&[("b3", "0")]), map(&[("X-B3-Sampled", "0")])] {
        let cx = B3Propagator::single_header().extract(&carrier);
        let captured = Capture::new().run(|| {
            let span = traceweave::span("handler").parent(&cx).start();
            let _g = span.enter();
            let _child = traceweave::span("child").start();
            Context::current().span_context().is_sampled()
        });
        assert!(!captured.value, "the new trace is not sampled");
        assert!(captured.spans.is_empty(), "{:?}", captured.spans);
    }
    // `b3: 1` alone (accept) and no header at all both record.
    for carrier in [map(&[("b3", "1")]), map(&[])] {
        let cx = B3Propagator::single_header().extract(&carrier);
        let captured = Capture::new().run(|| {
            traceweave::span("handler").parent(&cx).start().end();
        });
        assert_eq!(captured.spans.len(), 1);
    }
}

#[test]
fn b3_debug_reaches_the_next_hop_through_a_child_span() {
    let cx = B3Propagator::single_header().extract(&map(&[(
        "b3",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d",
    )]));
    let mut out = HashMap::new();
    let _ = Capture::new().run(|| {
        let span = traceweave::span("client").parent(&cx).start();
        let _g = span.enter();
        B3Propagator::single_header().inject(&Context::current(), &mut out);
    });
    let b3 = &out["b3"];
    assert!(b3.starts_with("80f198ee56343ba864fe8b2a57d3eff7-"), "{b3}");
    assert!(b3.ends_with("-d"), "debug sent on: {b3}");
}

#[test]
fn duplicate_headers_are_invalid_for_every_format() {
    let twice: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "tracecontext",
            vec![("traceparent", PARENT), ("Traceparent", PARENT)],
        ),
        (
            "b3",
            vec![
                ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
                ("B3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
            ],
        ),
        (
            "jaeger",
            vec![("uber-trace-id", "1:2:0:1"), ("Uber-Trace-Id", "1:3:0:1")],
        ),
        (
            "sw8",
            vec![
                (
                    "sw8",
                    "1-MQ==-Mg==-0-c2VydmljZQ==-aW5zdGFuY2U=-L2FwaQ==-aG9zdDo4MA==",
                ),
                (
                    "SW8",
                    "1-MQ==-Mg==-0-c2VydmljZQ==-aW5zdGFuY2U=-L2FwaQ==-aG9zdDo4MA==",
                ),
            ],
        ),
    ];
    for (format, headers) in twice {
        let p = traceweave::propagation::by_name(format).unwrap();
        let one = map(&headers[..1]);
        assert!(p.extract(&one).has_span(), "{format}: one header is valid");
        assert!(
            !p.extract(&map(&headers)).has_span(),
            "{format}: the same header twice is ambiguous"
        );
    }
}

#[test]
fn level_2_tracestate_keys_and_duplicates() {
    let p = TraceContextPropagator::new();
    let long = "k".repeat(256);
    let header = format!("foo@=1,foo@@bar=2,t@vvvvvvvvvvvvvvv=3,{long}=4,foo@=5");
    let cx = p.extract(&map(&[("traceparent", PARENT), ("tracestate", &header)]));
    let ts = cx.trace_state();
    assert_eq!(
        ts.get("foo@"),
        Some("1"),
        "the first of a repeated key wins"
    );
    assert_eq!(ts.get("foo@@bar"), Some("2"));
    assert_eq!(ts.get("t@vvvvvvvvvvvvvvv"), Some("3"));
    assert_eq!(ts.get(&long), Some("4"));
    assert_eq!(ts.iter().count(), 4);
    for bad in ["@foo=1", &format!("{}=1", "k".repeat(257))] {
        let cx = p.extract(&map(&[("traceparent", PARENT), ("tracestate", bad)]));
        assert!(cx.has_span(), "a bad tracestate never costs the parent");
        assert!(cx.trace_state().is_empty(), "{bad}");
    }
}

#[test]
fn thousands_of_headers_and_an_uberctx_flood_stay_within_limits() {
    let mut carrier = HashMap::new();
    for i in 0..20_000 {
        carrier.insert(format!("UberCtx-key{i}"), format!("value{i}"));
        carrier.insert(format!("X-Other-{i}"), "x".to_owned());
    }
    carrier.insert("Traceparent".to_owned(), PARENT.to_owned());
    traceweave::propagation::set_global_propagator(CompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
        Box::new(JaegerPropagator::new()),
        Box::new(B3Propagator::multi_header()),
    ]));
    let cx = traceweave::extract(&carrier);
    assert!(
        cx.has_span(),
        "found case-insensitively among 40,001 headers"
    );
    let bag = cx.baggage();
    assert!(bag.len() <= 180, "{} members", bag.len());
    assert!(bag.len() >= 100, "{} members", bag.len());
    let bytes: usize = bag.iter().map(|e| e.key.len() + e.value.len()).sum();
    assert!(bytes <= 8192, "{bytes} bytes");

    // A large AMQP table too.
    let mut table = FieldTable::default();
    for i in 0..5_000 {
        traceweave::Injector::set(&mut table, &format!("h{i}"), "v".to_owned());
    }
    traceweave::Injector::set(&mut table, "TraceParent", PARENT.to_owned());
    assert!(traceweave::extract(&table).has_span());
}

#[test]
fn injectors_skip_what_their_carrier_cannot_hold() {
    // A 300-byte baggage key re-injected as `uberctx-…` does not fit an AMQP short string.
    let long_key = "k".repeat(300);
    let cx =
        Context::new().with_baggage(Baggage::new().with(long_key.clone(), "v").with("ok", "1"));
    let mut table = FieldTable::default();
    JaegerPropagator::new().inject(&cx, &mut table);
    let keys: Vec<String> = table
        .inner()
        .keys()
        .map(|k| k.as_str().to_owned())
        .collect();
    assert_eq!(keys, ["uberctx-ok"]);

    // A NATS header value with a line break would end the header block: not written.
    let mut headers = async_nats::HeaderMap::new();
    traceweave::Injector::set(&mut headers, "x-evil", "a\r\nb: c".to_owned());
    traceweave::Injector::set(&mut headers, "x-fine", "ok".to_owned());
    assert!(headers.get("x-evil").is_none());
    assert_eq!(headers.get("x-fine").map(|v| v.as_str()), Some("ok"));
}

#[test]
fn baggage_properties_follow_the_grammar_before_they_are_sent_on() {
    let p = BaggagePropagator::new();
    let cx = p.extract(&map(&[(
        "baggage",
        "a=1;prop=x;flag, b=2;bad prop=\"q\", c=3; p = v, d=4;k\t\t",
    )]));
    let mut out = HashMap::new();
    p.inject(&cx, &mut out);
    assert_eq!(out["baggage"], "a=1;prop=x;flag,b=2,c=3;p=v,d=4;k");

    // Properties an application set by hand are checked as well.
    let bag = Baggage::new().with_entry(BaggageEntry {
        key: "k".into(),
        value: "v".into(),
        metadata: "x=\"quoted\"".into(),
    });
    let mut out = HashMap::new();
    p.inject(&Context::new().with_baggage(bag), &mut out);
    assert_eq!(out["baggage"], "k=v");
}
