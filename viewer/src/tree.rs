//! A trace as a text tree, each span with its service, for a terminal.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::model::SpanRow;

/// Every trace of `store` as a tree, oldest first, separated by blank lines.
pub fn render_all(store: &crate::Store) -> Result<String, crate::store::StoreError> {
    let mut out = String::new();
    for t in store.all_traces()?.iter().rev() {
        out.push_str(&render(&store.trace(&t.trace_id)?));
        out.push('\n');
    }
    Ok(out)
}

/// Renders one trace. Spans whose parent is missing start their own branch at the top.
pub fn render(spans: &[SpanRow]) -> String {
    let mut out = String::new();
    let Some(first) = spans.iter().min_by_key(|s| s.start_ns) else {
        return out;
    };
    let t0 = first.start_ns;
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<Option<&str>, Vec<&SpanRow>> = HashMap::new();
    for s in spans {
        let parent = s.parent_id.as_deref().filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(s);
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| (s.start_ns, s.span_id.clone()));
    }
    let services: HashSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    let _ = writeln!(
        out,
        "trace {} · {} spans · {} services",
        first.trace_id,
        spans.len(),
        services.len()
    );
    fn walk<'a>(
        out: &mut String,
        children: &HashMap<Option<&str>, Vec<&'a SpanRow>>,
        seen: &mut HashSet<&'a str>,
        parent: Option<&str>,
        prefix: &str,
        t0: i64,
    ) {
        let Some(list) = children.get(&parent) else {
            return;
        };
        for (i, s) in list.iter().enumerate() {
            if !seen.insert(&s.span_id) {
                continue;
            }
            let last = i + 1 == list.len();
            let status = if s.is_error() {
                format!(" ERROR {}", s.status_message)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{prefix}{} {} [{}] {} +{:.1}ms {:.1}ms{}",
                if last { "└─" } else { "├─" },
                s.name,
                s.kind_name(),
                s.service,
                (s.start_ns - t0) as f64 / 1e6,
                s.duration_ns() as f64 / 1e6,
                status.trim_end()
            );
            let deeper = format!("{prefix}{}", if last { "   " } else { "│  " });
            walk(out, children, seen, Some(&s.span_id), &deeper, t0);
        }
    }
    let mut seen = HashSet::new();
    walk(&mut out, &children, &mut seen, None, "", t0);
    // Spans in a parent cycle (bad data) hang under no root: each starts its own branch.
    let mut rest: Vec<&SpanRow> = spans
        .iter()
        .filter(|s| !seen.contains(s.span_id.as_str()))
        .collect();
    rest.sort_by_key(|s| s.start_ns);
    for s in rest {
        if seen.contains(s.span_id.as_str()) {
            continue;
        }
        let mut lone: HashMap<Option<&str>, Vec<&SpanRow>> = children.clone();
        lone.insert(None, vec![s]);
        walk(&mut out, &lone, &mut seen, None, "", t0);
    }
    out
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
}
