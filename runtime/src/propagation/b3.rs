//! B3 (openzipkin/b3-propagation): the single `b3` header and the `X-B3-*` headers.

use super::{Extractor, Injector, Propagator, is_hex};
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
/// propagators treat it.
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

fn trace_id(s: &str) -> Option<TraceId> {
    if (s.len() == 16 || s.len() == 32) && is_hex(s) {
        let id = TraceId::from_u128(u128::from_str_radix(s, 16).ok()?);
        id.is_valid().then_some(id)
    } else {
        None
    }
}

fn span_id(s: &str) -> Option<SpanId> {
    if s.len() == 16 && is_hex(s) {
        let id = SpanId::from_u64(u64::from_str_radix(s, 16).ok()?);
        id.is_valid().then_some(id)
    } else {
        None
    }
}

/// `Some(true)` sampled (or debug), `Some(false)` not, `None` deferred; `Err` invalid.
fn sampled_single(s: &str) -> Result<Option<bool>, ()> {
    match s {
        "1" | "d" => Ok(Some(true)),
        "0" => Ok(Some(false)),
        _ => Err(()),
    }
}

fn context(trace: TraceId, span: SpanId, sampled: Option<bool>) -> SpanContext {
    let flags = TraceFlags::NONE.with_sampled(sampled.unwrap_or(false));
    SpanContext::new(trace, span, flags, true)
}

pub(crate) fn parse_single(value: &str) -> Option<SpanContext> {
    let v = value.trim();
    if v.len() > MAX_LEN {
        return None;
    }
    let parts: Vec<&str> = v.split('-').collect();
    match parts.as_slice() {
        [t, s] => Some(context(trace_id(t)?, span_id(s)?, None)),
        [t, s, f] => Some(context(trace_id(t)?, span_id(s)?, sampled_single(f).ok()?)),
        [t, s, f, p] => {
            span_id(p)?;
            Some(context(trace_id(t)?, span_id(s)?, sampled_single(f).ok()?))
        }
        // `b3: 0`, `1` or `d` alone carry only a sampling decision, no parent.
        _ => None,
    }
}

fn parse_multi(carrier: &dyn Extractor) -> Option<SpanContext> {
    let t = trace_id(carrier.get(TRACE_ID)?.trim())?;
    let s = span_id(carrier.get(SPAN_ID)?.trim())?;
    if let Some(p) = carrier.get(PARENT_ID) {
        span_id(p.trim())?;
    }
    let debug = carrier.get(FLAGS).map(str::trim) == Some("1");
    let sampled = match carrier.get(SAMPLED).map(|v| v.trim().to_ascii_lowercase()) {
        None => None,
        Some(v) if v == "1" || v == "true" => Some(true),
        Some(v) if v == "0" || v == "false" => Some(false),
        Some(_) => return None,
    };
    Some(context(t, s, if debug { Some(true) } else { sampled }))
}

impl Propagator for B3Propagator {
    fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        let span = cx.span_context();
        if !span.is_valid() {
            return;
        }
        let sampled = if span.is_sampled() { "1" } else { "0" };
        if self.multi {
            carrier.set(TRACE_ID, span.trace_id().to_string());
            carrier.set(SPAN_ID, span.span_id().to_string());
            carrier.set(SAMPLED, sampled.to_owned());
        } else {
            carrier.set(
                B3,
                format!("{}-{}-{sampled}", span.trace_id(), span.span_id()),
            );
        }
    }

    fn extract_with(&self, carrier: &dyn Extractor, cx: Context) -> Context {
        // The single header wins when present, even if invalid (then nothing is extracted).
        let span = match carrier.get(B3) {
            Some(v) => parse_single(v),
            None => parse_multi(carrier),
        };
        match span {
            Some(span) => cx.with_span_context(span),
            None => cx,
        }
    }

    fn fields(&self) -> Vec<String> {
        if self.multi {
            vec![TRACE_ID.into(), SPAN_ID.into(), SAMPLED.into()]
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
