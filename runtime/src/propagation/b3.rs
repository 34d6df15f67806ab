//! B3 (openzipkin/b3-propagation): the single `b3` header and the `X-B3-*` headers.

use super::{Extractor, Injector, Propagator, is_lower_hex};
use crate::context::{Context, SpanContext};
use crate::id::{SpanId, TraceFlags, TraceId};

const B3: &str = "b3";
const TRACE_ID: &str = "x-b3-traceid";
const SPAN_ID: &str = "x-b3-spanid";
const PARENT_ID: &str = "x-b3-parentspanid";
const SAMPLED: &str = "x-b3-sampled";
const FLAGS: &str = "x-b3-flags";
const MAX_LEN: usize = 256;

/// B3. Reads the single header first, then the multi headers; writes the single header by
/// default (or the multi headers), never `ParentSpanId`. 64-bit trace ids are left-padded.
/// An absent sampling state ("defer") arrives as not sampled, as OpenTelemetry's B3
/// propagators treat it. A sampling state without ids (`b3: 0`, `X-B3-Sampled: 0`) is a
/// decision the parent-based sampler honours for the new trace; debug (`d`, `X-B3-Flags: 1`)
/// is carried to the children and sent on. Ids must be lowercase hex; a header given twice is
/// invalid.
#[derive(Debug, Clone, Copy)]
pub struct B3Propagator {
    multi: bool,
}

impl Default for B3Propagator {
    fn default() -> Self {
        Self::single_header()
    }
}

impl B3Propagator {
    /// Writes `b3: {trace}-{span}-{1|0}`.
    pub const fn single_header() -> Self {
        B3Propagator { multi: false }
    }

    /// Writes `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled`.
    pub const fn multi_header() -> Self {
        B3Propagator { multi: true }
    }
}

// Ids are lowercase hex, as the B3 grammar says (`{TraceId}`: 16 or 32 lower-hex characters).
fn trace_id(s: &str) -> Option<TraceId> {
    if (s.len() == 16 || s.len() == 32) && is_lower_hex(s) {
        let id = TraceId::from_u128(u128::from_str_radix(s, 16).ok()?);
        id.is_valid().then_some(id)
    } else {
        None
    }
}

fn span_id(s: &str) -> Option<SpanId> {
    if s.len() == 16 && is_lower_hex(s) {
        let id = SpanId::from_u64(u64::from_str_radix(s, 16).ok()?);
        id.is_valid().then_some(id)
    } else {
        None
    }
}

/// The sampling state: accept, deny, debug (which implies accept), or absent ("defer").
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sampling {
    Defer,
    Deny,
    Accept,
    Debug,
}

impl Sampling {
    fn single(s: &str) -> Option<Sampling> {
        match s {
            "1" => Some(Sampling::Accept),
            "d" => Some(Sampling::Debug),
            "0" => Some(Sampling::Deny),
            _ => None,
        }
    }
}

/// What a B3 carrier says: a parent span (with its sampling state), or a sampling state alone.
#[derive(Debug, PartialEq)]
enum B3 {
    Span(TraceId, SpanId, Sampling),
    DecisionOnly(Sampling),
}

fn parse_single_value(value: &str) -> Option<B3> {
    let v = value.trim();
    if v.len() > MAX_LEN {
        return None;
    }
    let mut parts = v.split('-');
    let (first, rest): (&str, Vec<&str>) = (parts.next()?, parts.collect());
    match rest.as_slice() {
        // `b3: 0`, `1` or `d` alone carry only a sampling decision, no parent.
        [] => Some(B3::DecisionOnly(Sampling::single(first)?)),
        [s] => Some(B3::Span(trace_id(first)?, span_id(s)?, Sampling::Defer)),
        [s, f] => Some(B3::Span(
            trace_id(first)?,
            span_id(s)?,
            Sampling::single(f)?,
        )),
        [s, f, p] => {
            span_id(p)?;
            Some(B3::Span(
                trace_id(first)?,
                span_id(s)?,
                Sampling::single(f)?,
            ))
        }
        _ => None,
    }
}

fn context(trace: TraceId, span: SpanId, sampling: Sampling) -> SpanContext {
    let sampled = matches!(sampling, Sampling::Accept | Sampling::Debug);
    SpanContext::new(trace, span, TraceFlags::NONE.with_sampled(sampled), true)
}

fn parse_multi(carrier: &dyn Extractor) -> Option<B3> {
    let one = |key| super::single(carrier, key).map(|v| v.map(str::trim));
    let debug = one(FLAGS)? == Some("1");
    let sampling = match one(SAMPLED)?.map(str::to_ascii_lowercase).as_deref() {
        _ if debug => Sampling::Debug,
        None => Sampling::Defer,
        Some("1" | "true") => Sampling::Accept,
        Some("0" | "false") => Sampling::Deny,
        Some(_) => return None,
    };
    let (t, s) = match (one(TRACE_ID)?, one(SPAN_ID)?) {
        (Some(t), Some(s)) => (t, s),
        (None, None) if sampling != Sampling::Defer => return Some(B3::DecisionOnly(sampling)),
        _ => return None,
    };
    if let Some(p) = one(PARENT_ID)? {
        span_id(p)?;
    }
    Some(B3::Span(trace_id(t)?, span_id(s)?, sampling))
}

impl Propagator for B3Propagator {
    fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        let span = cx.span_context();
        if !span.is_valid() {
            return;
        }
        let debug = cx.b3_debug();
        let sampled = if span.is_sampled() { "1" } else { "0" };
        if self.multi {
            carrier.set(TRACE_ID, span.trace_id().to_string());
            carrier.set(SPAN_ID, span.span_id().to_string());
            // Debug implies accept: `X-B3-Sampled` is not sent with it.
            if debug {
                carrier.set(FLAGS, "1".to_owned());
            } else {
                carrier.set(SAMPLED, sampled.to_owned());
            }
        } else {
            let sampled = if debug { "d" } else { sampled };
            carrier.set(
                B3,
                format!("{}-{}-{sampled}", span.trace_id(), span.span_id()),
            );
        }
    }

    fn extract_with(&self, carrier: &dyn Extractor, cx: Context) -> Context {
        // The single header wins when present, even if invalid (then nothing is extracted);
        // the same header twice is ambiguous, so invalid.
        let found = match super::single(carrier, B3) {
            None => None,
            Some(Some(v)) => parse_single_value(v),
            Some(None) => parse_multi(carrier),
        };
        let (span, sampling) = match found {
            Some(B3::Span(t, s, sampling)) => (context(t, s, sampling), sampling),
            Some(B3::DecisionOnly(sampling)) => (
                SpanContext::decision_only(sampling != Sampling::Deny),
                sampling,
            ),
            None => return cx,
        };
        let cx = cx.with_span_context(span);
        if sampling == Sampling::Debug {
            cx.with_b3_debug()
        } else {
            cx
        }
    }

    fn fields(&self) -> Vec<String> {
        if self.multi {
            vec![
                TRACE_ID.into(),
                SPAN_ID.into(),
                SAMPLED.into(),
                FLAGS.into(),
            ]
        } else {
            vec![B3.into()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn single_header_forms() {
        let p = B3Propagator::single_header();
        let cx = p.extract(&super::super::carrier(&[(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        )]));
        assert_eq!(
            cx.span_context().trace_id().to_string(),
            "80f198ee56343ba864fe8b2a57d3eff7"
        );
        assert!(cx.span_context().is_sampled());
        let cx = p.extract(&super::super::carrier(&[(
            "b3",
            "64fe8b2a57d3eff7-e457b5a2e4d86bd1-d",
        )]));
        assert_eq!(
            cx.span_context().trace_id().to_string(),
            "000000000000000064fe8b2a57d3eff7"
        );
        assert!(cx.span_context().is_sampled());
        assert!(cx.b3_debug());
        assert!(
            !p.extract(&super::super::carrier(&[(
                "b3",
                "64fe8b2a57d3eff7-e457b5a2e4d86bd1"
            )]))
            .span_context()
            .is_sampled()
        );
        for alone in [
            "0",
            "1",
            "d",
            "",
            "x-y",
            "64fe8b2a57d3eff7-e457b5a2e4d86bd1-2",
            "64FE8B2A57D3EFF7-e457b5a2e4d86bd1-1",
            "64fe8b2a57d3eff7-E457B5A2E4D86BD1-1",
        ] {
            assert!(
                !p.extract(&super::super::carrier(&[("b3", alone)]))
                    .has_span(),
                "{alone}"
            );
        }
    }

    #[test]
    fn single_wins_and_multi_reads_variants() {
        let p = B3Propagator::single_header();
        let both = super::super::carrier(&[
            ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"),
            ("X-B3-TraceId", "11111111111111111111111111111111"),
            ("X-B3-SpanId", "2222222222222222"),
        ]);
        assert_eq!(
            p.extract(&both).span_context().span_id().to_string(),
            "e457b5a2e4d86bd1"
        );
        let multi = super::super::carrier(&[
            ("X-B3-TraceId", "463ac35c9f6413ad"),
            ("X-B3-SpanId", "a2fb4a1d1a96d312"),
            ("X-B3-Sampled", "true"),
        ]);
        let cx = p.extract(&multi);
        assert!(cx.span_context().is_sampled());
        assert_eq!(
            cx.span_context().trace_id().to_string(),
            "0000000000000000463ac35c9f6413ad"
        );
        let debug = super::super::carrier(&[
            ("X-B3-TraceId", "463ac35c9f6413ad"),
            ("X-B3-SpanId", "a2fb4a1d1a96d312"),
            ("X-B3-Flags", "1"),
        ]);
        assert!(p.extract(&debug).span_context().is_sampled());
        assert!(p.extract(&debug).b3_debug());
    }

    #[test]
    fn a_decision_without_ids_is_kept_and_duplicates_are_invalid() {
        let p = B3Propagator::single_header();
        for carrier in [
            super::super::carrier(&[("b3", "0")]),
            super::super::carrier(&[("X-B3-Sampled", "0")]),
        ] {
            let cx = p.extract(&carrier);
            assert!(!cx.has_span());
            assert_eq!(cx.span_context().decision_hint(), Some(false));
        }
        let cx = p.extract(&super::super::carrier(&[("b3", "d")]));
        assert_eq!(cx.span_context().decision_hint(), Some(true));
        assert!(cx.b3_debug());
        // `Traceparent`-style case twins in a HashMap are two headers.
        let twice = super::super::carrier(&[
            ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
            ("B3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd2-1"),
        ]);
        assert!(!p.extract(&twice).has_span());
        let twice = super::super::carrier(&[
            ("x-b3-traceid", "463ac35c9f6413ad"),
            ("X-B3-TraceId", "463ac35c9f6413ae"),
            ("X-B3-SpanId", "a2fb4a1d1a96d312"),
        ]);
        assert!(!p.extract(&twice).has_span());
    }

    #[test]
    fn debug_is_sent_on() {
        let single = B3Propagator::single_header();
        let multi = B3Propagator::multi_header();
        let cx = single.extract(&super::super::carrier(&[(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d",
        )]));
        let mut out = HashMap::new();
        single.inject(&cx, &mut out);
        assert_eq!(
            out["b3"],
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d"
        );
        let mut out = HashMap::new();
        multi.inject(&cx, &mut out);
        assert_eq!(out.get("x-b3-flags").map(String::as_str), Some("1"));
        assert!(!out.contains_key("x-b3-sampled"));
    }

    #[test]
    fn injects_single_by_default_and_multi_on_request() {
        let cx = B3Propagator::single_header().extract(&super::super::carrier(&[(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
        )]));
        let mut out = HashMap::new();
        B3Propagator::single_header().inject(&cx, &mut out);
        assert_eq!(
            out["b3"],
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"
        );
        let mut out = HashMap::new();
        B3Propagator::multi_header().inject(&cx, &mut out);
        assert_eq!(out["x-b3-sampled"], "1");
        assert!(!out.contains_key("x-b3-parentspanid"));
    }
}
