//! A trace as a text tree, each span with its service, for a terminal.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::model::SpanRow;

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
    fn walk(
        out: &mut String,
        children: &HashMap<Option<&str>, Vec<&SpanRow>>,
        parent: Option<&str>,
        prefix: &str,
        t0: i64,
    ) {
        let Some(list) = children.get(&parent) else {
            return;
        };
        for (i, s) in list.iter().enumerate() {
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
            walk(out, children, Some(&s.span_id), &deeper, t0);
        }
    }
    walk(&mut out, &children, None, "", t0);
    out
}
