//! Percent-encoding as the W3C baggage and Jaeger formats use it.

/// Decodes `%XX` escapes; invalid escapes stay as they are; invalid UTF-8 becomes U+FFFD.
/// A `+` stays a `+` (baggage is not form encoding).
pub(crate) fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Encodes every byte outside `keep` (and `%` itself) as `%XX`.
pub(crate) fn encode(s: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c != b'%' && keep(c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_edges() {
        assert_eq!(decode("a%20b+c"), "a b+c");
        assert_eq!(decode("%zz%2"), "%zz%2");
        assert_eq!(decode("%FF"), "\u{FFFD}");
        assert_eq!(encode("a b%", |c| c.is_ascii_alphanumeric()), "a%20b%25");
    }
}
