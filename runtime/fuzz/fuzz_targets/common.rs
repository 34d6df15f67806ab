// Shared by every target: feed the bytes as the named header(s), extract, re-inject, and check
// that nothing outside the header grammar is ever written.
use std::collections::HashMap;

pub fn check(format: &str, headers: &[&str], data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // Split the input among the headers, so multi-header formats get several fields.
    let mut parts = text.splitn(headers.len(), '\n');
    let mut carrier = HashMap::new();
    for h in headers {
        if let Some(p) = parts.next() {
            carrier.insert(h.to_string(), p.to_string());
        }
    }
    let p = traceweave::propagation::by_name(format).unwrap();
    let cx = p.extract(&carrier);
    if cx.has_span() {
        assert!(cx.span_context().is_valid());
    }
    let mut out = HashMap::new();
    p.inject(&cx, &mut out);
    for (k, v) in &out {
        assert!(k.bytes().all(|c| c.is_ascii_graphic()), "key {k:?}");
        assert!(v.bytes().all(|c| (0x20..0x7f).contains(&c)), "{k}: {v:?}");
    }
}
