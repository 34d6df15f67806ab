//! The service map kept at ingest equals the one computed from the spans, whatever order spans
//! arrive in (children before parents, links before their targets), when spans are re-sent
//! changed, and after retention drops traces. Counts match exactly; p50/p99 come from
//! quarter-octave histograms, within 10 %.

use std::sync::Arc;

use serde_json::{Map, Value};
use traceweave_view::model::LinkRow;
use traceweave_view::store::ServiceMap;
use traceweave_view::{Retention, SpanRow, Store};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SERVICES: [&str; 4] = ["gateway", "orders", "stock", "mailer"];

/// Traces of up to 12 spans over 4 services, a quarter of client spans naming a peer, some
/// spans linking to spans of earlier traces; all within one minute.
fn traces(rng: &mut Rng, count: u32) -> Vec<SpanRow> {
    let mut out: Vec<SpanRow> = Vec::new();
    for t in 0..count {
        let n = 1 + rng.below(12) as usize;
        let base = 1_700_000_000_000_000_000i64 + i64::from(t) * 1000;
        let mut spans: Vec<SpanRow> = Vec::new();
        for i in 0..n {
            let parent = (i > 0).then(|| rng.below(i as u64) as usize);
            let service = SERVICES[rng.below(4) as usize];
            let kind = [1u8, 2, 3, 4, 5][rng.below(5) as usize];
            let mut attributes = Map::new();
            if kind == 3 && rng.below(4) == 0 {
                let (k, v) = if rng.below(2) == 0 {
                    ("peer.service", "bank")
                } else {
                    ("db.system.name", "postgresql")
                };
                attributes.insert(k.into(), Value::from(v));
            }
            let mut links = Vec::new();
            if !out.is_empty() && rng.below(5) == 0 {
                let target = &out[rng.below(out.len() as u64) as usize];
                links.push(LinkRow {
                    trace_id: target.trace_id.clone(),
                    span_id: target.span_id.clone(),
                    attributes: Map::new(),
                });
            }
            let start = base + rng.below(1_000_000) as i64;
            spans.push(SpanRow {
                trace_id: format!("{:032x}", u64::from(t) + 1),
                span_id: format!("{:016x}", (u64::from(t) << 8) | (i as u64 + 1)),
                parent_id: parent.map(|p| format!("{:016x}", (u64::from(t) << 8) | (p as u64 + 1))),
                service: service.into(),
                name: "op".into(),
                kind,
                start_ns: start,
                end_ns: start + 1000 + rng.below(50_000_000) as i64,
                status: if rng.below(6) == 0 { 2 } else { 0 },
                status_message: String::new(),
                attributes,
                events: Vec::new(),
                links,
                resource: Arc::new(
                    serde_json::from_value(serde_json::json!({"service.name": service})).unwrap(),
                ),
                scope: String::new(),
                truncated: 0,
            });
        }
        out.extend(spans);
    }
    out
}

fn assert_same(kept: &ServiceMap, scanned: &ServiceMap, what: &str) {
    let nodes = |m: &ServiceMap| {
        let mut v: Vec<_> = m
            .nodes
            .iter()
            .map(|n| (n.service.clone(), n.spans, n.errors, n.inferred))
            .collect();
        v.sort();
        v
    };
    assert_eq!(nodes(kept), nodes(scanned), "{what}: nodes");
    let edges = |m: &ServiceMap| {
        m.edges
            .iter()
            .map(|e| {
                (
                    e.from.clone(),
                    e.to.clone(),
                    e.kind.clone(),
                    e.calls,
                    e.errors,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(edges(kept), edges(scanned), "{what}: edges");
    for (k, s) in kept.edges.iter().zip(&scanned.edges) {
        for (a, b) in [(k.p50_ms, s.p50_ms), (k.p99_ms, s.p99_ms)] {
            assert!(
                (a - b).abs() <= 0.1 * b + 1e-6,
                "{what}: {a} vs {b} on {k:?}"
            );
        }
    }
}

fn everything(store: &Store) -> (ServiceMap, ServiceMap) {
    let (from, to) = (i64::MIN / 2, i64::MAX / 2);
    (
        store.service_map(from, to).unwrap(),
        store.service_map_scan(from, to).unwrap(),
    )
}

#[test]
fn any_order_any_chunking_re_sent_spans_and_retention() {
    let mut kinds = std::collections::BTreeSet::new();
    let mut inferred = false;
    for seed in 1..=12u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut spans = traces(&mut rng, 60);
        // Any order: shuffled.
        for i in (1..spans.len()).rev() {
            spans.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let retention = if seed % 3 == 0 {
            Retention {
                max_spans: 150,
                ..Retention::unbounded()
            }
        } else {
            Retention::unbounded()
        };
        let store = Store::memory(retention).unwrap();
        let mut rest = &spans[..];
        while !rest.is_empty() {
            let n = (1 + rng.below(40) as usize).min(rest.len());
            store.insert(&rest[..n]).unwrap();
            rest = &rest[n..];
        }
        // Re-sent, some changed: replaced, not counted twice.
        let mut again: Vec<SpanRow> = spans.iter().step_by(7).cloned().collect();
        for s in again.iter_mut().step_by(2) {
            s.status = 2 - s.status;
            s.end_ns += 7_000_000;
        }
        store.insert(&again).unwrap();
        let (kept, scanned) = everything(&store);
        assert!(!kept.edges.is_empty(), "seed {seed}: the case has edges");
        assert_same(&kept, &scanned, &format!("seed {seed}"));
        kinds.extend(kept.edges.iter().map(|e| e.kind.clone()));
        inferred |= kept.nodes.iter().any(|n| n.inferred);
        if seed % 3 == 0 {
            assert!(
                store.span_count() <= 150,
                "seed {seed}: retention dropped traces"
            );
        }
    }
    let all: Vec<&str> = kinds.iter().map(String::as_str).collect();
    assert_eq!(
        all,
        ["call", "database", "link", "messaging", "rpc"],
        "every kind of edge met"
    );
    assert!(inferred, "peers seen only from their callers met");
}

/// Whole traces in one request, the common case the map's upkeep serves from memory: the
/// same map as the scan, in any order within the request, also when it carries a span twice
/// (changed, even moved to another parent) and when a later request adds to traces an earlier
/// one stored.
#[test]
fn whole_traces_in_one_request_with_spans_sent_twice_in_it() {
    for seed in 1..=12u64 {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut spans = traces(&mut rng, 60);
        let mut twice: Vec<SpanRow> = spans.iter().step_by(5).cloned().collect();
        for (i, s) in twice.iter_mut().enumerate() {
            s.status = 2 - s.status;
            s.end_ns += 3_000_000;
            if i % 3 == 0 && s.parent_id.is_some() {
                // Moved to the trace's first span.
                s.parent_id = Some(format!("{:016x}", (s.span_id_number() >> 8 << 8) | 1));
            }
        }
        // Half the copies in the same request, all of it in any order (a child before its
        // parent, a copy before its first).
        let late = twice.split_off(twice.len() / 2);
        spans.extend(twice);
        for i in (1..spans.len()).rev() {
            spans.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let store = Store::memory(Retention::unbounded()).unwrap();
        store.insert(&spans).unwrap();
        let (kept, scanned) = everything(&store);
        assert!(!kept.edges.is_empty(), "seed {seed}: the case has edges");
        assert_same(&kept, &scanned, &format!("seed {seed}, one request"));
        // A later request: copies of spans whose traces are stored now.
        store.insert(&late).unwrap();
        let (kept, scanned) = everything(&store);
        assert_same(&kept, &scanned, &format!("seed {seed}, a later request"));
    }
}

trait SpanIdNumber {
    fn span_id_number(&self) -> u64;
}

impl SpanIdNumber for SpanRow {
    fn span_id_number(&self) -> u64 {
        u64::from_str_radix(&self.span_id, 16).unwrap()
    }
}
