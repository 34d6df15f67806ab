//! What every decoded span must hold, whatever the bytes: the ingest limits.

use traceweave_view::{IngestLimits, SpanRow};

/// Small limits, so the fuzzer reaches the cuts with small inputs.
pub const LIMITS: IngestLimits = IngestLimits {
    name_length: 16,
    key_length: 8,
    value_length: 32,
    attributes: 4,
    events: 3,
    links: 2,
    depth: 2,
};

fn check_value(v: &serde_json::Value, depth: usize) {
    match v {
        serde_json::Value::String(s) => assert!(s.chars().count() <= LIMITS.value_length, "{s:?}"),
        serde_json::Value::Array(items) => {
            assert!(depth < LIMITS.depth && items.len() <= LIMITS.attributes);
            items.iter().for_each(|i| check_value(i, depth + 1));
        }
        serde_json::Value::Object(map) => {
            assert!(depth < LIMITS.depth);
            check_map(map, depth + 1);
        }
        _ => {}
    }
}

fn check_map(map: &serde_json::Map<String, serde_json::Value>, depth: usize) {
    assert!(map.len() <= LIMITS.attributes);
    for (k, v) in map {
        assert!(k.chars().count() <= LIMITS.key_length);
        check_value(v, depth);
    }
}

pub fn check(spans: &[SpanRow]) {
    for s in spans {
        assert_eq!(s.trace_id.len(), 32);
        assert_eq!(s.span_id.len(), 16);
        assert!(s.name.chars().count() <= LIMITS.name_length);
        assert!(s.service.chars().count() <= LIMITS.name_length);
        assert!(s.scope.chars().count() <= LIMITS.name_length);
        assert!(s.status_message.chars().count() <= LIMITS.value_length);
        assert!(s.kind <= 5 && s.status <= 2 && s.end_ns >= s.start_ns.min(s.end_ns));
        check_map(&s.attributes, 0);
        assert!(s.events.len() <= LIMITS.events && s.links.len() <= LIMITS.links);
        for e in &s.events {
            assert!(e.name.chars().count() <= LIMITS.name_length);
            check_map(&e.attributes, 0);
        }
        for l in &s.links {
            check_map(&l.attributes, 0);
        }
        // What the store and the UI serialise must serialise.
        serde_json::to_string(s).unwrap();
    }
}
