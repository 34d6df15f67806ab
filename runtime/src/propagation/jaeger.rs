//! Jaeger's native format: `uber-trace-id: {trace}:{span}:{parent}:{flags}` and
//! `uberctx-{key}` baggage.

use super::percent;
use super::{Extractor, Injector, Propagator, is_hex};
use crate::context::{BaggageEntry, Context, SpanContext};
use crate::id::TraceFlags;

const HEADER: &str = "uber-trace-id";
const BAGGAGE_PREFIX: &str = "uberctx-";
const MAX_LEN: usize = 256;
/// `uberctx-*` baggage is read within the W3C baggage limits.
const MAX_BAGGAGE_MEMBERS: usize = 180;
const MAX_BAGGAGE_BYTES: usize = 8192;

/// Jaeger propagation. Reads variable-length ids (left-padded), the URL-encoded form, flags
/// 0x01 sampled and 0x02 debug (which implies sampled); writes 16 or 32 hex digits, parent
/// `0`, flags `1` or `0`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JaegerPropagator;

impl JaegerPropagator {
    /// The propagator.
    pub const fn new() -> Self {
        JaegerPropagator
    }
}

pub(crate) fn parse(value: &str) -> Option<SpanContext> {
    let mut v = value.trim().to_owned();
    if v.len() > MAX_LEN {
        return None;
    }
    if !v.contains(':') && v.to_ascii_lowercase().contains("%3a") {
        v = percent::decode(&v);
    }
    let parts: Vec<&str> = v.split(':').collect();
    let [trace, span, parent, flags] = parts.as_slice() else {
        return None;
    };
    if trace.len() > 32 || span.len() > 16 || parent.len() > 16 || flags.len() > 2 {
        return None;
    }
    if !is_hex(trace) || !is_hex(span) || !is_hex(parent) || !is_hex(flags) {
        return None;
    }
    let (trace_id, span_id) = super::parse_ids(trace, span)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let sampled = flags & 0x01 != 0 || flags & 0x02 != 0;
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::NONE.with_sampled(sampled),
        true,
    ))
}

impl Propagator for JaegerPropagator {
    fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        let span = cx.span_context();
        if span.is_valid() {
            let t = span.trace_id().to_u128();
            let trace = if t >> 64 == 0 {
                format!("{:016x}", t as u64)
            } else {
                format!("{t:032x}")
            };
            let flags = u8::from(span.is_sampled());
            carrier.set(HEADER, format!("{trace}:{}:0:{flags}", span.span_id()));
        }
        for e in cx.baggage().iter() {
            if super::baggage::is_token(&e.key) && !e.key.contains('%') {
                carrier.set(
                    &format!("{BAGGAGE_PREFIX}{}", e.key.to_ascii_lowercase()),
                    percent::encode(&e.value, percent::UNRESERVED),
                );
            }
        }
    }

    fn extract_with(&self, carrier: &dyn Extractor, mut cx: Context) -> Context {
        // Two `uber-trace-id` headers are ambiguous: neither is used.
        if let Some(Some(v)) = super::single(carrier, HEADER)
            && let Some(span) = parse(v)
        {
            cx = cx.with_span_context(span);
        }
        // `uberctx-*`, in one pass, within the W3C baggage limits.
        let mut found = Vec::new();
        let mut bytes = 0usize;
        let mut take = |key: &str, v: &str| -> bool {
            let Some(name) = key
                .get(..BAGGAGE_PREFIX.len())
                .filter(|p| p.eq_ignore_ascii_case(BAGGAGE_PREFIX))
                .map(|_| &key[BAGGAGE_PREFIX.len()..])
            else {
                return true;
            };
            if !super::baggage::is_token(name) || v.len() > 4096 {
                return true;
            }
            bytes += name.len() + v.len();
            if found.len() == MAX_BAGGAGE_MEMBERS || bytes > MAX_BAGGAGE_BYTES {
                return false;
            }
            found.push(BaggageEntry {
                key: name.to_ascii_lowercase(),
                value: percent::decode(v),
                metadata: String::new(),
            });
            true
        };
        match carrier.entries() {
            Some(entries) => {
                for (k, v) in entries {
                    if !take(k, v) {
                        break;
                    }
                }
            }
            None => {
                for key in carrier.keys() {
                    if key.starts_with(BAGGAGE_PREFIX)
                        && let Some(v) = carrier.get(&key)
                        && !take(&key, v)
                    {
                        break;
                    }
                }
            }
        }
        if found.is_empty() {
            cx
        } else {
            let bag = cx.baggage().with_entries(found);
            cx.with_baggage(bag)
        }
    }

    fn fields(&self) -> Vec<String> {
        vec![HEADER.into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Baggage;
    use std::collections::HashMap;

    #[test]
    fn reads_short_ids_url_encoding_and_debug() {
        let cx = JaegerPropagator.extract(&super::super::carrier(&[("uber-trace-id", "1:2:0:3")]));
        assert_eq!(cx.span_context().trace_id().to_u128(), 1);
        assert_eq!(cx.span_context().span_id().to_u64(), 2);
        assert!(cx.span_context().is_sampled());
        let enc = JaegerPropagator.extract(&super::super::carrier(&[(
            "uber-trace-id",
            "abc%3Adef%3A0%3A1",
        )]));
        assert_eq!(enc.span_context().span_id().to_u64(), 0xdef);
        assert!(
            JaegerPropagator
                .extract(&super::super::carrier(&[("uber-trace-id", "abc:def:0:2")]))
                .span_context()
                .is_sampled()
        );
        for bad in [
            "0:1:0:1",
            "1:0:0:1",
            "1:2:0",
            "1:2:0:1:5",
            "x:2:0:1",
            "1:2:0:100",
        ] {
            assert!(
                !JaegerPropagator
                    .extract(&super::super::carrier(&[("uber-trace-id", bad)]))
                    .has_span(),
                "{bad}"
            );
        }
    }

    #[test]
    fn writes_canonical_form_and_baggage() {
        let cx = JaegerPropagator.extract(&super::super::carrier(&[
            ("uber-trace-id", "1:2:0:1"),
            ("uberctx-user", "a%20b"),
        ]));
        assert_eq!(cx.baggage().get("user"), Some("a b"));
        let cx = cx.with_baggage(Baggage::new().with("user", "a b"));
        let mut out = HashMap::new();
        JaegerPropagator.inject(&cx, &mut out);
        assert_eq!(
            out["uber-trace-id"],
            "0000000000000001:0000000000000002:0:1"
        );
        assert_eq!(out["uberctx-user"], "a%20b");
    }
}
