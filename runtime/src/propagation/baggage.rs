//! W3C Baggage: `baggage: key=value;prop, key2=value2`.

use super::percent;
use super::{Extractor, Injector, Propagator};
use crate::context::{Baggage, BaggageEntry, Context};

const BAGGAGE: &str = "baggage";
/// The spec's minimum to propagate, which we also use as the maximum.
const MAX_BYTES: usize = 8192;
/// The header grammar allows at most 180 members.
const MAX_MEMBERS: usize = 180;

/// W3C baggage (w3c/baggage): keys are RFC 7230 tokens, values percent-encoded (a space is
/// sent as `%20`; a `+` read is a literal `+`). Whole members beyond the limits are dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct BaggagePropagator;

impl BaggagePropagator {
    /// The propagator.
    pub const fn new() -> Self {
        BaggagePropagator
    }
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

fn is_baggage_octet(c: u8) -> bool {
    matches!(c, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// `props` (what follows a member's value, without the first `;`) as a list of W3C properties
/// (`key OWS "=" OWS value` or `key`, separated by `;`, keys tokens, values baggage octets),
/// written without the optional whitespace; `None` if any property breaks the grammar.
pub(crate) fn normalize_properties(props: &str) -> Option<String> {
    let mut out = String::with_capacity(props.len());
    for p in props.split(';') {
        let p = p.trim_matches([' ', '\t']);
        if !out.is_empty() {
            out.push(';');
        }
        match p.split_once('=') {
            Some((k, v)) => {
                let (k, v) = (
                    k.trim_end_matches([' ', '\t']),
                    v.trim_start_matches([' ', '\t']),
                );
                if !is_token(k) || !v.bytes().all(is_baggage_octet) {
                    return None;
                }
                out.push_str(k);
                out.push('=');
                out.push_str(v);
            }
            None if is_token(p) => out.push_str(p),
            None => return None,
        }
    }
    Some(out)
}

/// Parses a baggage header into entries; invalid members are skipped, and properties that do
/// not follow the grammar are dropped (the member is kept).
pub(crate) fn parse(header: &str) -> Vec<BaggageEntry> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for member in header.split(',') {
        if out.len() >= MAX_MEMBERS {
            break;
        }
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        bytes += member.len();
        if bytes > MAX_BYTES {
            break;
        }
        let (kv, props) = match member.split_once(';') {
            Some((kv, props)) => (kv, props.trim_matches([' ', '\t'])),
            None => (member, ""),
        };
        let Some((key, value)) = kv.split_once('=') else {
            continue;
        };
        let key = key.trim_matches([' ', '\t']);
        let value = value.trim_matches([' ', '\t']);
        if !is_token(key) || !value.bytes().all(is_baggage_octet) {
            continue;
        }
        let props = if props.is_empty() {
            String::new()
        } else {
            normalize_properties(props).unwrap_or_default()
        };
        out.push(BaggageEntry {
            key: key.to_owned(),
            value: percent::decode(value),
            metadata: props,
        });
    }
    out
}

/// Encodes baggage as a header value, dropping whole members that are invalid or beyond the
/// limits. `None` when nothing is left.
pub(crate) fn encode(baggage: &Baggage) -> Option<String> {
    let mut out = String::new();
    let mut members = 0;
    for e in baggage.iter() {
        if !is_token(&e.key) || members >= MAX_MEMBERS {
            continue;
        }
        let mut member = format!(
            "{}={}",
            e.key,
            percent::encode(&e.value, percent::BAGGAGE_VALUE)
        );
        // Properties are sent on only when they follow the grammar (an application may have
        // put anything in `metadata`).
        if !e.metadata.is_empty()
            && let Some(props) = normalize_properties(&e.metadata)
        {
            member.push(';');
            member.push_str(&props);
        }
        let extra = member.len() + usize::from(!out.is_empty());
        if out.len() + extra > MAX_BYTES {
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&member);
        members += 1;
    }
    (!out.is_empty()).then_some(out)
}

impl Propagator for BaggagePropagator {
    fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        if let Some(header) = encode(cx.baggage()) {
            carrier.set(BAGGAGE, header);
        }
    }

    fn extract_with(&self, carrier: &dyn Extractor, cx: Context) -> Context {
        let headers = carrier.get_all(BAGGAGE);
        if headers.is_empty() {
            return cx;
        }
        let joined = headers.join(",");
        let entries = parse(&joined);
        if entries.is_empty() {
            return cx;
        }
        let bag = cx.baggage().with_entries(entries);
        cx.with_baggage(bag)
    }

    fn fields(&self) -> Vec<String> {
        vec![BAGGAGE.into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn extract(v: &str) -> Context {
        let mut m = HashMap::new();
        m.insert("baggage".to_string(), v.to_string());
        BaggagePropagator.extract(&m)
    }

    #[test]
    fn reads_values_properties_and_encodings() {
        let cx = extract(
            "userId=alice, serverNode = DF%2028 ;prop=1,isProduction=false,plus=a+b,bad key=x",
        );
        let b = cx.baggage();
        assert_eq!(b.get("userId"), Some("alice"));
        assert_eq!(b.get("serverNode"), Some("DF 28"));
        assert_eq!(b.iter().nth(1).unwrap().metadata, "prop=1");
        assert_eq!(b.get("plus"), Some("a+b"));
        assert_eq!(b.get("bad key"), None);
        assert_eq!(b.len(), 4);
        assert_eq!(extract("k=%FF").baggage().get("k"), Some("\u{FFFD}"));
    }

    #[test]
    fn writes_percent_encoding_never_plus() {
        let cx = Context::new()
            .with_baggage(Baggage::new().with("k", "a b,c;d%e+").with("bad key", "x"));
        let mut out = HashMap::new();
        BaggagePropagator.inject(&cx, &mut out);
        assert_eq!(out["baggage"], "k=a%20b%2Cc%3Bd%25e+");
        assert_eq!(
            extract(&out["baggage"]).baggage().get("k"),
            Some("a b,c;d%e+")
        );
    }

    #[test]
    fn limits_drop_whole_members() {
        let many: Vec<String> = (0..300).map(|i| format!("k{i}=v")).collect();
        assert_eq!(extract(&many.join(",")).baggage().len(), MAX_MEMBERS);
        let big = format!("a=1,b={},c=3", "x".repeat(9000));
        let b = extract(&big).baggage().clone();
        assert_eq!(b.get("a"), Some("1"));
        assert_eq!(b.get("b"), None);
        let huge: Baggage = (0..100)
            .map(|i| (format!("key{i}"), "v".repeat(200)))
            .collect();
        let header = encode(&huge).unwrap();
        assert!(header.len() <= MAX_BYTES);
        assert!(header.split(',').all(|m| m.ends_with(&"v".repeat(200))));
    }
}
