//! Property tests: every format round-trips random contexts through our own inject and
//! extract, and every extractor is total on arbitrary input.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::context::{Baggage, SpanContext};
use crate::id::{SpanId, TraceFlags, TraceId};

fn all() -> Vec<(&'static str, Box<dyn Propagator>)> {
    ["tracecontext", "baggage", "b3", "b3multi", "jaeger", "sw8"]
        .into_iter()
        .map(|n| (n, by_name(n).unwrap()))
        .collect()
}

fn span_context() -> impl Strategy<Value = SpanContext> {
    (1..=u128::MAX, 1..=u64::MAX, any::<bool>(), any::<bool>()).prop_map(
        |(t, s, sampled, random)| {
            let flags = TraceFlags::NONE.with_sampled(sampled).union(if random {
                TraceFlags::RANDOM_TRACE_ID
            } else {
                TraceFlags::NONE
            });
            SpanContext::new(TraceId::from_u128(t), SpanId::from_u64(s), flags, false)
        },
    )
}

fn baggage() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-zA-Z0-9_.-]{1,12}", "\\PC{0,20}"), 0..3)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn span_formats_round_trip(span in span_context()) {
        for (name, p) in all() {
            if name == "baggage" {
                continue;
            }
            let mut carrier = HashMap::new();
            p.inject(&Context::new().with_span_context(span), &mut carrier);
            let got = p.extract(&carrier);
            let g = got.span_context();
            prop_assert_eq!(g.trace_id(), span.trace_id(), "{}", name);
            prop_assert_eq!(g.span_id(), span.span_id(), "{}", name);
            prop_assert_eq!(g.is_sampled(), span.is_sampled(), "{}", name);
            prop_assert!(g.is_remote(), "{}", name);
            if name == "tracecontext" {
                prop_assert_eq!(g.trace_flags(), span.trace_flags());
            }
        }
    }

    #[test]
    fn baggage_round_trips(entries in baggage()) {
        let mut unique = HashMap::new();
        for (k, v) in &entries {
            unique.insert(k.clone(), v.clone());
        }
        let bag: Baggage = unique.clone().into_iter().collect();
        for name in ["baggage", "jaeger", "sw8"] {
            let p = by_name(name).unwrap();
            let mut carrier = HashMap::new();
            p.inject(&Context::new().with_baggage(bag.clone()), &mut carrier);
            let got = p.extract(&carrier);
            for (k, v) in &unique {
                // Jaeger header names are lowercase; sw8 keeps values under 128 bytes.
                let key = if name == "jaeger" { k.to_ascii_lowercase() } else { k.clone() };
                if name == "jaeger" && unique.keys().filter(|o| o.eq_ignore_ascii_case(k)).count() > 1 {
                    continue;
                }
                prop_assert_eq!(got.baggage().get(&key), Some(v.as_str()), "{} {:?}", name, carrier);
            }
        }
    }

    #[test]
    fn extractors_are_total(value in "\\PC{0,300}", raw in prop::collection::vec(any::<u8>(), 0..300)) {
        let lossy = String::from_utf8_lossy(&raw).into_owned();
        for (_, p) in all() {
            for field in p.fields().into_iter().chain(["uberctx-k".to_string()]) {
                for v in [&value, &lossy] {
                    let mut carrier = HashMap::new();
                    carrier.insert(field.clone(), v.clone());
                    let got = p.extract(&carrier);
                    // Whatever was read, what we write back is within the grammar.
                    let mut out = HashMap::new();
                    p.inject(&got, &mut out);
                    for (k, v) in &out {
                        prop_assert!(k.bytes().all(|c| c.is_ascii_graphic()), "{k:?}");
                        prop_assert!(v.bytes().all(|c| (0x20..0x7f).contains(&c)), "{k}: {v:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn near_valid_traceparents_never_panic(
        version in "[0-9a-fA-F]{2}",
        trace in "[0-9a-fA-F]{30,34}",
        span in "[0-9a-fA-F]{14,18}",
        flags in "[0-9a-fA-F]{1,3}",
        tail in "[-.a-z0-9]{0,5}",
    ) {
        let v = format!("{version}-{trace}-{span}-{flags}{tail}");
        let parsed = w3c::parse_traceparent(&v);
        if let Some(p) = parsed {
            prop_assert!(p.is_valid());
            prop_assert_eq!(&v[3..35], p.trace_id().to_string());
        }
    }
}
