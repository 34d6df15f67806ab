// Shared by every target: feed the bytes as the named header(s), extract, re-inject into every
// carrier type traceweave supports, and check that nothing outside the header grammar is ever
// written and that what each carrier carries reads back as the same context.
#![allow(dead_code)]

use std::collections::HashMap;

use traceweave::Context;
use traceweave::propagation::{Extractor, Injector, Propagator};

/// One target's input split among `headers` (one line each), as a peer would send them.
pub fn check(format: &str, headers: &[&str], data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // Split the input among the headers, so multi-header formats get several fields.
    let mut parts = text.splitn(headers.len(), '\n');
    let mut carrier = HashMap::new();
    for h in headers {
        if let Some(p) = parts.next() {
            carrier.insert(h.to_string(), p.to_string());
        }
    }
    let p = traceweave::propagation::by_name(format).unwrap();
    round_trip(&*p, &carrier, Baggage::All);
}

/// Extracts from `incoming`, injects into a `HashMap` (checking every byte written) and reads
/// that back as the reference, then injects into each carrier type and reads it back: the span
/// context and trace state must survive every carrier; baggage may lose only what a carrier
/// cannot hold (AMQP keys over 255 bytes, gRPC `-bin` keys), never gain or alter an entry.
///
/// `twice` is what the baggage must keep on the second round: all of it for one format; for
/// several, nothing is promised (two baggage formats with different case rules and caps merge
/// into one list whose order decides which of two keys equal but for case a `uberctx-*` header
/// carries, and which entries a capped format keeps).
pub fn round_trip(p: &dyn Propagator, incoming: &HashMap<String, String>, twice: Baggage) {
    let cx = p.extract(incoming);
    if cx.has_span() {
        assert!(cx.span_context().is_valid());
    }
    let mut map: HashMap<String, String> = HashMap::new();
    p.inject(&cx, &mut map);
    for (k, v) in &map {
        assert!(k.bytes().all(|c| c.is_ascii_graphic()), "key {k:?}");
        assert!(v.bytes().all(|c| (0x20..0x7f).contains(&c)), "{k}: {v:?}");
    }
    let reference = p.extract(&map);
    // What we wrote, read back and written again, reads back the same: a fixed point (header
    // values may list baggage in another order: `uberctx-*` headers have none).
    let mut again: HashMap<String, String> = HashMap::new();
    p.inject(&reference, &mut again);
    if twice == Baggage::All {
        assert_eq!(
            map.keys().collect::<std::collections::BTreeSet<_>>(),
            again.keys().collect(),
            "re-injecting what was read back wrote other headers"
        );
    }
    same("HashMap, twice", &reference, &p.extract(&again), twice);

    let mut http = http::HeaderMap::new();
    p.inject(&cx, &mut http);
    same(
        "http::HeaderMap",
        &reference,
        &p.extract(&http),
        Baggage::All,
    );

    let mut grpc = tonic::metadata::MetadataMap::new();
    p.inject(&cx, &mut grpc);
    // gRPC metadata keys ending in `-bin` are binary: such `uberctx-*` entries are skipped.
    same(
        "tonic MetadataMap",
        &reference,
        &p.extract(&grpc),
        Baggage::Subset,
    );

    let mut amqp = lapin::types::FieldTable::default();
    p.inject(&cx, &mut amqp);
    // AMQP field names hold at most 255 bytes: longer `uberctx-*` entries are skipped.
    same(
        "AMQP FieldTable",
        &reference,
        &p.extract(&amqp),
        Baggage::Subset,
    );

    let mut nats = async_nats::HeaderMap::new();
    p.inject(&cx, &mut nats);
    same(
        "NATS HeaderMap",
        &reference,
        &p.extract(&nats),
        Baggage::All,
    );
}

#[derive(PartialEq, Clone, Copy)]
pub enum Baggage {
    /// Every entry survives.
    All,
    /// Entries may be lost, never added or altered.
    Subset,
    /// Not compared.
    Unchecked,
}

fn same(carrier: &str, want: &Context, got: &Context, baggage: Baggage) {
    assert_eq!(
        want.span_context(),
        got.span_context(),
        "{carrier}: the span context changed"
    );
    assert_eq!(
        want.trace_state(),
        got.trace_state(),
        "{carrier}: the trace state changed"
    );
    if baggage == Baggage::Unchecked {
        return;
    }
    for e in got.baggage().iter() {
        assert_eq!(
            want.baggage().get(&e.key),
            Some(e.value.as_str()),
            "{carrier}: baggage {:?} appeared or changed",
            e.key
        );
    }
    if baggage == Baggage::All {
        for e in want.baggage().iter() {
            assert_eq!(
                got.baggage().get(&e.key),
                Some(e.value.as_str()),
                "{carrier}: baggage {:?} was lost",
                e.key
            );
        }
    }
}

/// Lines of `name: value` (a line without a colon is skipped) as a header map.
pub fn header_lines(data: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(data);
    let mut carrier = HashMap::new();
    for line in text.split('\n') {
        if let Some((k, v)) = line.split_once(':') {
            carrier.insert(k.trim().to_string(), v.trim_start().to_string());
        }
    }
    carrier
}

// Keep the trait imports used whatever the target uses.
fn _uses(_: &dyn Extractor, _: &mut dyn Injector) {}
