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
/// One `uberctx-*` value, encoded: longer ones are neither read nor written.
const MAX_VALUE_BYTES: usize = 4096;

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
        // Within the limits extraction applies, so a peer (or we) can read back all we write.
        let (mut members, mut bytes) = (0usize, 0usize);
        let mut written = std::collections::HashSet::new();
        for e in cx.baggage().iter() {
            if !super::baggage::is_token(&e.key) || e.key.contains('%') {
                continue;
            }
            let value = percent::encode(&e.value, percent::UNRESERVED);
            if value.len() > MAX_VALUE_BYTES {
                continue;
            }
            if members == MAX_BAGGAGE_MEMBERS
                || bytes + e.key.len() + value.len() > MAX_BAGGAGE_BYTES
            {
                break;
            }
            // Header names have no case: `Tenant` and `tenant` would be one header, and which
            // value it held would depend on the carrier. The first one is written.
            let name = format!("{BAGGAGE_PREFIX}{}", e.key.to_ascii_lowercase());
            if written.contains(&name) {
                continue;
            }
            members += 1;
            bytes += e.key.len() + value.len();
            carrier.set(&name, value);
            written.insert(name);
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
            if !super::baggage::is_token(name) || v.len() > MAX_VALUE_BYTES {
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

    #[test]
    fn writes_only_what_it_would_read_back() {
        // 2,000 bytes of non-ASCII encode to 6,000: over the per-value limit, so not written.
        let big = "é".repeat(1000);
        let mut bag = Baggage::new().with("big", big).with("ok", "v");
        for i in 0..300 {
            bag = bag.with(format!("k{i}"), "x".repeat(40));
        }
        let cx = Context::default().with_baggage(bag);
        let mut out = HashMap::new();
        JaegerPropagator.inject(&cx, &mut out);
        assert!(!out.contains_key("uberctx-big"));
        assert!(out.contains_key("uberctx-ok"));
        let written = out.len();
        assert!(written <= 180, "{written}");
        let bytes: usize = out.iter().map(|(k, v)| k.len() - 8 + v.len()).sum();
        assert!(bytes <= 8192, "{bytes}");
        // Everything written reads back.
        assert_eq!(JaegerPropagator.extract(&out).baggage().len(), written);
        // Keys equal but for case are one header: the first is written, whatever the carrier.
        let cx = Context::default().with_baggage(
            Baggage::new()
                .with("Tenant", "first")
                .with("tenant", "second"),
        );
        let mut out = HashMap::new();
        JaegerPropagator.inject(&cx, &mut out);
        assert_eq!(out["uberctx-tenant"], "first");
    }
}
