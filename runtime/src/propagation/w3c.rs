//! W3C Trace Context (Level 2): `traceparent` and `tracestate`.

use super::{Extractor, Injector, Propagator, is_lower_hex};
use crate::context::{Context, SpanContext, TraceState};
use crate::id::TraceFlags;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
/// Longer values are not read at all (a version above 00 may append fields, but not 4 KiB).
const MAX_TRACEPARENT: usize = 512;
const MAX_TRACESTATE: usize = 8192;

/// `traceparent: 00-<trace-id>-<parent-id>-<flags>` and `tracestate`, per
/// w3.org/TR/trace-context-2. The random-trace-id flag is kept; other unknown flag bits are
/// not sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextPropagator;

impl TraceContextPropagator {
    /// The propagator.
    pub const fn new() -> Self {
        TraceContextPropagator
    }
}

/// Parses one `traceparent` value; `None` if the spec says to ignore it.
pub(crate) fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let v = value.trim_matches([' ', '\t']);
    if v.len() > MAX_TRACEPARENT || v.len() < 55 || !v.is_ascii() {
        return None;
    }
    let version = &v[0..2];
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    let b = v.as_bytes();
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let (trace, span, flags) = (&v[3..35], &v[36..52], &v[53..55]);
    if !is_lower_hex(trace) || !is_lower_hex(span) || !is_lower_hex(flags) {
        return None;
    }
    if version == "00" {
        if v.len() != 55 {
            return None;
        }
    } else if v.len() > 55 && b[55] != b'-' {
        // A future version may only append fields after a dash.
        return None;
    }
    let (trace_id, span_id) = super::parse_ids(trace, span)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    // Bits we do not know are not carried over (we will send version 00).
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::from_u8(flags & 0x03),
        true,
    ))
}

impl Propagator for TraceContextPropagator {
    fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        let span = cx.span_context();
        if !span.is_valid() {
            return;
        }
        carrier.set(
            TRACEPARENT,
            format!(
                "00-{}-{}-{:02x}",
                span.trace_id(),
                span.span_id(),
                span.trace_flags().to_u8() & 0x03
            ),
        );
        let ts = cx.trace_state();
        if !ts.is_empty() {
            carrier.set(TRACESTATE, ts.header());
        }
    }

    fn extract_with(&self, carrier: &dyn Extractor, cx: Context) -> Context {
        let parents = carrier.get_all(TRACEPARENT);
        // Two traceparent headers: ambiguous, ignore both.
        let [value] = parents.as_slice() else {
            return cx;
        };
        let Some(span) = parse_traceparent(value) else {
            return cx;
        };
        let states = carrier.get_all(TRACESTATE);
        let joined = states.join(",");
        let trace_state = if joined.len() <= MAX_TRACESTATE {
            // A bad tracestate never affects traceparent: it is just dropped.
            TraceState::parse(&joined).unwrap_or_default()
        } else {
            TraceState::new()
        };
        cx.with_span_context(span).with_trace_state(trace_state)
    }

    fn fields(&self) -> Vec<String> {
        vec![TRACEPARENT.into(), TRACESTATE.into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn extract(headers: &[(&str, &str)]) -> Context {
        struct Multi(Vec<(String, String)>);
        impl Extractor for Multi {
            fn get(&self, key: &str) -> Option<&str> {
                self.get_all(key).first().copied()
            }
            fn get_all(&self, key: &str) -> Vec<&str> {
                self.0
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.as_str())
                    .collect()
            }
            fn keys(&self) -> Vec<String> {
                self.0.iter().map(|(k, _)| k.to_lowercase()).collect()
            }
        }
        let m = Multi(
            headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        TraceContextPropagator.extract(&m)
    }

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn reads_the_spec_example() {
        let cx = extract(&[
            ("TraceParent", VALID),
            ("tracestate", "rojo=00f067aa0ba902b7"),
        ]);
        let s = cx.span_context();
        assert_eq!(s.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s.span_id().to_string(), "00f067aa0ba902b7");
        assert!(s.is_sampled() && s.is_remote());
        assert_eq!(cx.trace_state().get("rojo"), Some("00f067aa0ba902b7"));
    }

    #[test]
    fn rejects_what_the_spec_rejects() {
        for bad in [
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e473é-00f067aa0ba902b7-01",
        ] {
            assert!(!extract(&[("traceparent", bad)]).has_span(), "{bad}");
        }
        // Two traceparent headers: ignored.
        assert!(!extract(&[("traceparent", VALID), ("traceparent", VALID)]).has_span());
    }

    #[test]
    fn accepts_future_versions_and_whitespace() {
        let future =
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like";
        assert!(extract(&[("traceparent", future)]).has_span());
        assert!(
            extract(&[(
                "traceparent",
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            )])
            .has_span()
        );
        assert!(extract(&[("traceparent", &format!(" \t{VALID}\t "))]).has_span());
    }

    #[test]
    fn bad_tracestate_keeps_traceparent_and_headers_join() {
        let cx = extract(&[("traceparent", VALID), ("tracestate", "BAD KEY=1")]);
        assert!(cx.has_span());
        assert!(cx.trace_state().is_empty());
        let cx = extract(&[
            ("traceparent", VALID),
            ("tracestate", "a=1"),
            ("tracestate", "b=2"),
        ]);
        assert_eq!(cx.trace_state().header(), "a=1,b=2");
    }

    #[test]
    fn injects_version_00_keeping_the_random_flag_only() {
        let cx = extract(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
        )]);
        assert_eq!(cx.span_context().trace_flags().to_u8(), 0x03);
        let mut out = HashMap::new();
        TraceContextPropagator.inject(&cx, &mut out);
        assert_eq!(
            out["traceparent"],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"
        );
        let mut out = HashMap::new();
        TraceContextPropagator.inject(&Context::new(), &mut out);
        assert!(out.is_empty());
    }
}
