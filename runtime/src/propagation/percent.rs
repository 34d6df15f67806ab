//! Percent-encoding as the W3C baggage and Jaeger formats use it, through the
//! `percent-encoding` crate (the url crate's own; measured no slower than the hand-written
//! version it replaced, see `benches/README.md`).

use percent_encoding::{
    AsciiSet, CONTROLS, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode,
};

/// What a W3C baggage value may not hold as is: everything but `baggage-octet`
/// (`%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`), plus `%` itself so decoding gives the
/// value back. Non-ASCII is always encoded.
pub(crate) const BAGGAGE_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

/// Jaeger's `uberctx-*` values: everything but RFC 3986's unreserved characters.
pub(crate) const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Decodes `%XX` escapes; invalid escapes stay as they are; invalid UTF-8 becomes U+FFFD.
/// A `+` stays a `+` (baggage is not form encoding).
pub(crate) fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Encodes every byte in `set` (and every non-ASCII byte) as `%XX`.
pub(crate) fn encode(s: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(s, set).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_edges() {
        assert_eq!(decode("a%20b+c"), "a b+c");
        assert_eq!(decode("%zz%2"), "%zz%2");
        assert_eq!(decode("%FF"), "\u{FFFD}");
        assert_eq!(encode("a b%,é", BAGGAGE_VALUE), "a%20b%25%2C%C3%A9");
        assert_eq!(encode("a b-_.~/", UNRESERVED), "a%20b-_.~%2F");
    }

    #[test]
    fn the_sets_are_the_grammars() {
        let escaped = |c: u8, set| encode(&char::from(c).to_string(), set).starts_with('%');
        for c in 0u8..0x80 {
            let baggage_octet =
                matches!(c, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E);
            assert_eq!(
                escaped(c, BAGGAGE_VALUE),
                !baggage_octet || c == b'%',
                "{c:#x}"
            );
            let unreserved = c.is_ascii_alphanumeric() || b"-_.~".contains(&c);
            assert_eq!(escaped(c, UNRESERVED), !unreserved, "{c:#x}");
        }
    }
}
