//! Apache SkyWalking cross-process propagation v3: `sw8` and `sw8-correlation`.

use base64::Engine as _;
use std::sync::Arc;

use super::{Extractor, Injector, Propagator, is_lower_hex};
use crate::context::{BaggageEntry, Context, SpanContext, Sw8Parent};
use crate::id::{SpanId, TraceFlags, TraceId};

const SW8: &str = "sw8";
const CORRELATION: &str = "sw8-correlation";
const MAX_LEN: usize = 2048;
const MAX_CORRELATION_KEYS: usize = 3;
const MAX_CORRELATION_VALUE: usize = 128;

/// SkyWalking `sw8` (docs/en/api/x-process-propagation-headers-v3.md).
///
/// Ids map deterministically both ways: a SkyWalking trace id that is 32 lowercase hex digits
/// is our trace id as is; any other spelling is hashed (FNV-1a, the same in every process) and
/// the original string travels with the context, so the trace leaves with the id it came
/// with. A parent segment id of 16 hex digits with span id 0 (what we send) is our span id;
/// others are hashed. `sw8-correlation` maps to baggage (at most 3 keys, values under 128
/// bytes).
#[derive(Debug, Clone)]
pub struct SkyWalkingPropagator {
    service: String,
    instance: String,
}

impl Default for SkyWalkingPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl SkyWalkingPropagator {
    /// The propagator, naming this service `-` until [`with_service`](Self::with_service).
    ///
    /// From its creation on, entry spans (server and consumer) keep their name in their
    /// context, so that the `sw8` of a call made under one names it as the parent endpoint.
    pub fn new() -> Self {
        crate::context::enable_sw8_endpoints();
        SkyWalkingPropagator {
            service: "-".into(),
            instance: "-".into(),
        }
    }

    /// The parent service and instance names written into `sw8`.
    pub fn with_service(mut self, service: impl Into<String>, instance: impl Into<String>) -> Self {
        self.service = service.into();
        self.instance = instance.into();
        self
    }
}

fn fnv1a(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h = seed;
    for part in parts {
        for &b in *part {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Our trace id for a SkyWalking trace id string.
pub(crate) fn trace_id_for(sw: &str) -> TraceId {
    if sw.len() == 32
        && is_lower_hex(sw)
        && let Ok(v) = u128::from_str_radix(sw, 16)
        && v != 0
    {
        return TraceId::from_u128(v);
    }
    let hi = fnv1a(0xcbf2_9ce4_8422_2325, &[sw.as_bytes()]);
    let lo = fnv1a(0x8422_2325_cbf2_9ce4, &[sw.as_bytes()]);
    TraceId::from_u128(((hi as u128) << 64 | lo as u128).max(1))
}

fn span_id_for(segment: &str, span: i64) -> SpanId {
    if span == 0
        && segment.len() == 16
        && is_lower_hex(segment)
        && let Ok(v) = u64::from_str_radix(segment, 16)
        && v != 0
    {
        return SpanId::from_u64(v);
    }
    let h = fnv1a(
        0xcbf2_9ce4_8422_2325,
        &[segment.as_bytes(), &span.to_be_bytes()],
    );
    SpanId::from_u64(h.max(1))
}

/// A field SkyWalking requires to be non-empty: `-` when we do not know it.
fn non_empty(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("-")
}

/// Standard base64 with padding (the `base64` crate).
pub(crate) fn b64_encode(input: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(input)
}

/// Standard base64 with padding, strictly (canonical, no trailing bits); `None` on anything
/// else.
pub(crate) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn b64_str(s: &str) -> Option<String> {
    String::from_utf8(b64_decode(s)?).ok()
}

/// The parsed fields of an `sw8` value.
pub(crate) struct Sw8 {
    pub(crate) sampled: bool,
    pub(crate) trace_id: String,
    pub(crate) segment_id: String,
    pub(crate) span_id: i64,
    pub(crate) service: String,
    pub(crate) instance: String,
    pub(crate) endpoint: String,
    pub(crate) address: String,
}

pub(crate) fn parse(value: &str) -> Option<Sw8> {
    let v = value.trim();
    if v.len() >= MAX_LEN {
        return None;
    }
    let f: Vec<&str> = v.split('-').collect();
    if f.len() != 8 {
        return None;
    }
    let sampled = match f[0] {
        "1" => true,
        "0" => false,
        _ => return None,
    };
    let trace_id = b64_str(f[1]).filter(|s| !s.is_empty())?;
    let segment_id = b64_str(f[2]).filter(|s| !s.is_empty())?;
    let span_id: i64 = f[3].parse().ok().filter(|n| *n >= -1)?;
    Some(Sw8 {
        sampled,
        trace_id,
        segment_id,
        span_id,
        service: b64_str(f[4])?,
        instance: b64_str(f[5])?,
        endpoint: b64_str(f[6])?,
        address: b64_str(f[7])?,
    })
}

impl Propagator for SkyWalkingPropagator {
    fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        let span = cx.span_context();
        if span.is_valid() {
            let trace = match cx.sw8_trace_id() {
                Some(original) if trace_id_for(original) == span.trace_id() => original.to_owned(),
                _ => span.trace_id().to_string(),
            };
            let value = format!(
                "{}-{}-{}-0-{}-{}-{}-{}",
                u8::from(span.is_sampled()),
                b64_encode(trace.as_bytes()),
                b64_encode(span.span_id().to_string().as_bytes()),
                b64_encode(self.service.as_bytes()),
                b64_encode(self.instance.as_bytes()),
                b64_encode(non_empty(cx.sw8_endpoint()).as_bytes()),
                b64_encode(non_empty(carrier.target_address()).as_bytes()),
            );
            if value.len() < MAX_LEN {
                carrier.set(SW8, value);
            }
        }
        let pairs: Vec<String> = cx
            .baggage()
            .iter()
            .filter(|e| e.value.len() < MAX_CORRELATION_VALUE)
            .take(MAX_CORRELATION_KEYS)
            .map(|e| {
                format!(
                    "{}:{}",
                    b64_encode(e.key.as_bytes()),
                    b64_encode(e.value.as_bytes())
                )
            })
            .collect();
        if !pairs.is_empty() {
            carrier.set(CORRELATION, pairs.join(","));
        }
    }

    fn extract_with(&self, carrier: &dyn Extractor, mut cx: Context) -> Context {
        // Two `sw8` headers are ambiguous: neither is used.
        if let Some(sw) = super::single(carrier, SW8).flatten().and_then(parse) {
            let trace_id = trace_id_for(&sw.trace_id);
            let span = SpanContext::new(
                trace_id,
                span_id_for(&sw.segment_id, sw.span_id),
                TraceFlags::NONE.with_sampled(sw.sampled),
                true,
            );
            cx = cx.with_span_context(span);
            let original: Arc<str> = Arc::from(sw.trace_id.as_str());
            if sw.trace_id != trace_id.to_string() {
                cx = cx.with_sw8_trace_id(Some(original.clone()));
            }
            // SkyWalking's span ids are `int32`: a larger one cannot be referred to.
            if let Ok(span_id) = i32::try_from(sw.span_id) {
                cx = cx.with_sw8_parent(Arc::new(Sw8Parent {
                    span: span.span_id(),
                    trace_id: original,
                    segment_id: sw.segment_id,
                    span_id,
                    service: sw.service,
                    instance: sw.instance,
                    endpoint: sw.endpoint,
                    address: sw.address,
                }));
            }
        }
        if let Some(corr) = carrier.get(CORRELATION).filter(|v| v.len() < MAX_LEN) {
            let mut bag = cx.baggage().clone();
            let mut n = 0;
            for pair in corr.split(',') {
                if n == MAX_CORRELATION_KEYS {
                    break;
                }
                let Some((k, v)) = pair.trim().split_once(':') else {
                    continue;
                };
                if let (Some(k), Some(v)) = (b64_str(k), b64_str(v))
                    && !k.is_empty()
                    && v.len() < MAX_CORRELATION_VALUE
                {
                    bag = bag.with_entry(BaggageEntry {
                        key: k,
                        value: v,
                        metadata: String::new(),
                    });
                    n += 1;
                }
            }
            if n > 0 {
                cx = cx.with_baggage(bag);
            }
        }
        cx
    }

    fn fields(&self) -> Vec<String> {
        vec![SW8.into(), CORRELATION.into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn base64_round_trips_and_is_strict() {
        for s in ["", "a", "ab", "abc", "abcd", "service-1"] {
            assert_eq!(b64_decode(&b64_encode(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(b64_encode(b"ab"), "YWI=");
        assert!(b64_decode("YWI").is_none());
        assert!(b64_decode("Y=I=").is_none());
        assert!(b64_decode("YW*=").is_none());
    }

    #[test]
    fn a_foreign_trace_id_leaves_as_it_came() {
        // An sw8 as a SkyWalking agent writes it: its own trace id spelling, a segment and span.
        let incoming = "1-M2QxYzVhOWU4YjZmNGUyYS4xMTIuMTcwMDAwMDAwMDAwMDAwMDE=-M2QxYzVhOWU4YjZmNGUyYS4xMTIuMTcwMDAwMDAwMDAwMDAwMDA=-5-b3JkZXItc2VydmljZQ==-aW5zdC0xQDEwLjAuMC43-L2FwaS92MS9vcmRlcnM=-MTAuMC4wLjg6ODA4MA==";
        let cx = SkyWalkingPropagator::new().extract(&super::super::carrier(&[
            ("sw8", incoming),
            ("sw8-correlation", "dGVzdEtleQ==:dGVzdFZhbHVl"),
        ]));
        assert!(cx.has_span() && cx.span_context().is_sampled());
        assert_eq!(cx.baggage().get("testKey"), Some("testValue"));
        // A child of it keeps the trace id; the outgoing sw8 carries the original string.
        let child = cx.with_span_context(SpanContext::new(
            cx.span_context().trace_id(),
            SpanId::from_u64(0xabc),
            TraceFlags::SAMPLED,
            false,
        ));
        let mut out = HashMap::new();
        SkyWalkingPropagator::new()
            .with_service("svc", "i-1")
            .inject(&child, &mut out);
        let parsed = parse(&out["sw8"]).unwrap();
        assert_eq!(parsed.trace_id, "3d1c5a9e8b6f4e2a.112.17000000000000001");
        assert_eq!(parsed.segment_id, "0000000000000abc");
        // And extracting our own sw8 gives back exactly our ids.
        let again = SkyWalkingPropagator::new().extract(&out);
        assert_eq!(
            again.span_context().trace_id(),
            cx.span_context().trace_id()
        );
        assert_eq!(again.span_context().span_id().to_u64(), 0xabc);
    }

    #[test]
    fn the_callers_fields_are_kept_and_ours_name_the_entry_endpoint_and_the_target() {
        let incoming = format!(
            "1-{}-{}-7-{}-{}-{}-{}",
            b64_encode(b"4bf92f3577b34da6a3ce929d0e0e4736"),
            b64_encode(b"seg-of-the-caller"),
            b64_encode(b"gateway"),
            b64_encode(b"gateway-1"),
            b64_encode(b"/checkout"),
            b64_encode(b"orders:8080"),
        );
        let cx = SkyWalkingPropagator::new().extract(&super::super::carrier(&[("sw8", &incoming)]));
        let parent = cx.shared.as_ref().unwrap().sw8_parent.clone().unwrap();
        assert_eq!(parent.span, cx.span_context().span_id());
        assert_eq!(&*parent.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            (parent.segment_id.as_str(), parent.span_id),
            ("seg-of-the-caller", 7)
        );
        assert_eq!(
            (
                &*parent.service,
                &*parent.instance,
                &*parent.endpoint,
                &*parent.address
            ),
            ("gateway", "gateway-1", "/checkout", "orders:8080")
        );
        // A span id beyond SkyWalking's int32 cannot be referred to: no reference is kept.
        let huge = incoming.replace("-7-", "-4294967296-");
        let cx2 = SkyWalkingPropagator::new().extract(&super::super::carrier(&[("sw8", &huge)]));
        assert!(cx2.has_span() && cx2.shared.as_ref().is_none_or(|s| s.sw8_parent.is_none()));

        // Ours: the endpoint the context carries, the address the carrier knows; `-` for none.
        struct To(HashMap<String, String>);
        impl Injector for To {
            fn set(&mut self, key: &str, value: String) {
                self.0.insert(key.to_owned(), value);
            }
            fn target_address(&self) -> Option<&str> {
                Some("inventory:50051")
            }
        }
        let shared = crate::context::Shared {
            sw8_endpoint: Some("POST /orders".into()),
            ..Default::default()
        };
        let ours = Context {
            span: SpanContext::new(
                crate::id::TraceId::from_u128(9),
                SpanId::from_u64(0x77),
                TraceFlags::SAMPLED,
                false,
            ),
            shared: Some(Arc::new(shared)),
        };
        let mut to = To(HashMap::new());
        SkyWalkingPropagator::new()
            .with_service("orders", "orders-1")
            .inject(&ours, &mut to);
        let f: Vec<String> = to.0["sw8"]
            .split('-')
            .map(|p| b64_str(p).unwrap_or_default())
            .collect();
        assert_eq!(
            &f[4..],
            ["orders", "orders-1", "POST /orders", "inventory:50051"]
        );
        let mut plain = HashMap::new();
        SkyWalkingPropagator::new().inject(
            &Context::new().with_span_context(*ours.span_context()),
            &mut plain,
        );
        let f: Vec<String> = plain["sw8"]
            .split('-')
            .map(|p| b64_str(p).unwrap_or_default())
            .collect();
        assert_eq!(&f[6..], ["-", "-"]);
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            "",
            "1-a-b-c",
            "2-TRFDNS5TUjcyUzVHVjc=-TWVzc2FnZUlk-5-c2VydmljZQ==-aW5zdGFuY2U=-L2FwaQ==-ZXhh",
            "1-!!!-TWVzc2FnZUlk-5-c2VydmljZQ==-aW5zdGFuY2U=-L2FwaQ==-ZXhhbXBsZQ==",
            "1-TRFDNS5TUjcyUzVHVjc=-TWVzc2FnZUlk-x-c2VydmljZQ==-aW5zdGFuY2U=-L2FwaQ==-ZXhhbXBsZQ==",
        ] {
            assert!(
                !SkyWalkingPropagator::new()
                    .extract(&super::super::carrier(&[("sw8", bad)]))
                    .has_span(),
                "{bad}"
            );
        }
    }
}
