//! A trace as a text tree, each span with its service, for a terminal.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::model::SpanRow;

/// Every trace of `store` as a tree, oldest first, separated by blank lines.
///
/// ```
/// let request = serde_json::json!([{
///     "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7",
///     "name": "get /orders", "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64,
///     "duration": 1500, "localEndpoint": {"serviceName": "shop"},
/// }]);
/// use traceweave_view::{Retention, Store};
/// let store = Store::memory(Retention::default()).unwrap();
/// store.insert(&traceweave_view::decode::zipkin(&request, &Default::default()).unwrap()).unwrap();
/// let text = traceweave_view::tree::render_all(&store).unwrap();
/// assert!(text.contains("get /orders"), "{text}");
/// ```
pub fn render_all(store: &crate::Store) -> Result<String, crate::store::StoreError> {
    let mut out = String::new();
    for t in store.all_traces()?.iter().rev() {
        out.push_str(&render(&store.trace(&t.trace_id)?));
        out.push('\n');
    }
    Ok(out)
}

/// Deeper spans are drawn at this depth, their real depth written beside them: a 100,000-deep
/// chain prints in lines of bounded width.
const MAX_INDENT: usize = 32;

/// `text` with control characters (and other invisible format characters) written as escapes,
/// so a span name cannot move the cursor, clear the screen or write to the clipboard.
///
/// ```
/// use traceweave_view::tree::escape;
/// // A span name that would clear the terminal prints as text.
/// assert_eq!(escape("evil\u{1b}[2J"), "evil\\u{1b}[2J");
/// assert!(matches!(escape("plain"), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "{}", c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Renders one trace. Spans whose parent is missing start their own branch at the top; spans
/// caught in a parent cycle (bad data) each start one after them. Iterative: any depth.
///
/// ```
/// # let request = serde_json::json!([
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
/// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
/// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
/// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
/// #      "localEndpoint": {"serviceName": "gateway"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
/// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
/// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
/// # ]);
/// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
/// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
/// # store.insert(&spans).unwrap();
/// let text = traceweave_view::tree::render(&store.trace("4bf92f3577b34da6a3ce929d0e0e4736").unwrap());
/// assert!(text.contains("post /checkout"));
/// assert!(text.lines().count() >= 3);
/// ```
pub fn render(spans: &[SpanRow]) -> String {
    let mut out = String::new();
    let Some(first) = spans.iter().min_by_key(|s| s.start_ns) else {
        return out;
    };
    let t0 = first.start_ns;
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<Option<&str>, Vec<&SpanRow>> = HashMap::new();
    for s in spans {
        let parent = s
            .parent_id
            .as_deref()
            .filter(|p| ids.contains(p) && *p != s.span_id);
        children.entry(parent).or_default().push(s);
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| (s.start_ns, s.span_id.clone()));
    }
    let services: HashSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    let _ = writeln!(
        out,
        "trace {} · {} · {}",
        first.trace_id,
        plural(spans.len(), "span"),
        plural(services.len(), "service")
    );
    let mut seen: HashSet<&str> = HashSet::new();
    // Branches to draw: the roots first, then each span a cycle kept from every root.
    let mut starts: Vec<&SpanRow> = children.get(&None).cloned().unwrap_or_default();
    let mut rest: Vec<&SpanRow> = spans.iter().collect();
    rest.sort_by_key(|s| s.start_ns);
    starts.extend(rest);
    // (span, depth, is last among its siblings); `open[d]`: whether depth d still has siblings
    // to come (draws `│`).
    let mut open: Vec<bool> = Vec::new();
    for start in starts {
        if seen.contains(start.span_id.as_str()) {
            continue;
        }
        let mut stack: Vec<(&SpanRow, usize, bool)> = vec![(start, 0, true)];
        while let Some((s, depth, last)) = stack.pop() {
            if !seen.insert(&s.span_id) {
                continue;
            }
            open.truncate(depth);
            let mut prefix = String::new();
            for &more in open.iter().take(MAX_INDENT) {
                prefix.push_str(if more { "│  " } else { "   " });
            }
            let deep = if depth > MAX_INDENT {
                format!("[depth {depth}] ")
            } else {
                String::new()
            };
            let status = if s.is_error() {
                format!(" ERROR {}", escape(&s.status_message))
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{prefix}{} {deep}{} [{}] {} +{:.1}ms {:.1}ms{}",
                if last { "└─" } else { "├─" },
                escape(&s.name),
                s.kind_name(),
                escape(&s.service),
                (s.start_ns.saturating_sub(t0)) as f64 / 1e6,
                s.duration_ns() as f64 / 1e6,
                status.trim_end()
            );
            open.push(!last);
            if let Some(kids) = children.get(&Some(s.span_id.as_str())) {
                let unseen: Vec<&&SpanRow> = kids
                    .iter()
                    .filter(|k| !seen.contains(k.span_id.as_str()))
                    .collect();
                for (i, k) in unseen.iter().enumerate().rev() {
                    stack.push((k, depth + 1, i + 1 == unseen.len()));
                }
            }
        }
        open.clear();
    }
    out
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: Option<&str>, start_ns: i64) -> SpanRow {
        SpanRow {
            trace_id: "ab".repeat(16),
            span_id: id.into(),
            parent_id: parent.map(Into::into),
            service: "svc".into(),
            name: format!("op-{id}"),
            kind: 1,
            start_ns,
            end_ns: start_ns + 1_000_000,
            status: 0,
            status_message: String::new(),
            attributes: Default::default(),
            events: Vec::new(),
            links: Vec::new(),
            resource: Default::default(),
            scope: String::new(),
            truncated: 0,
        }
    }

    #[test]
    fn nests_and_keeps_spans_of_a_parent_cycle() {
        let spans = [
            span("a", None, 0),
            span("b", Some("a"), 1),
            span("c", Some("d"), 2),
            span("d", Some("c"), 3),
            span("e", Some("missing"), 4),
        ];
        let text = render(&spans);
        for id in ["a", "b", "c", "d", "e"] {
            assert_eq!(text.matches(&format!("op-{id} ")).count(), 1, "{text}");
        }
        assert!(text.contains("└─ op-b"), "{text}");
    }

    #[test]
    fn a_100000_deep_chain_prints_with_bounded_indentation() {
        let n = 100_000;
        let spans: Vec<SpanRow> = (0..n)
            .map(|i| {
                let parent = (i > 0).then(|| format!("{:016x}", i));
                let mut s = span(&format!("{:016x}", i + 1), parent.as_deref(), i as i64);
                s.name = "op".into();
                s
            })
            .collect();
        let text = render(&spans);
        assert_eq!(text.lines().count(), n + 1);
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest < MAX_INDENT * 3 + 80, "{widest}");
        assert!(text.contains(&format!("[depth {}] op", n - 1)));
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let mut s = span("a", None, 0);
        s.name = "evil\u{1b}]52;c;aGk=\u{7}\u{1b}[2J\u{202e}name".into();
        s.service = "svc\r\n".into();
        let text = render(&[s]);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(
            text.contains("evil\\u{1b}]52;c;aGk=\\u{7}\\u{1b}[2J\\u{202e}name"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 2);
    }
}
