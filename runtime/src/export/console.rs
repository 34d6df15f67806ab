//! The console exporter: each trace as an indented tree on stderr, readable at a glance.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;

use super::{ExportError, Exporter, Resource};
use crate::id::{SpanId, TraceId};
use crate::span::{SpanKind, SpanRecord, Status, Value};

/// Prints each trace as a tree once its local root span ends:
///
/// ```text
/// trace 4bf92f3577b34da6a3ce929d0e0e4736 · service shop
/// └─ checkout [server] 12.3ms  user.id=42
///    ├─ load_cart 1.20ms
///    └─ charge [client] 3.10ms ERROR card declined
/// ```
///
/// Spans of a trace wait until its root arrives (bounded: the oldest traces are printed early
/// when too many wait); `force_flush` and shutdown print everything still waiting.
pub struct ConsoleExporter {
    out: Box<dyn Write + Send>,
    /// Printing to stderr (so a forked child can print too).
    stderr: bool,
    pending: HashMap<TraceId, Vec<SpanRecord>>,
    pending_spans: usize,
    order: Vec<TraceId>,
    last_resource: Option<Resource>,
}

const MAX_PENDING_SPANS: usize = 16_384;

impl std::fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleExporter")
            .field("pending_traces", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Default for ConsoleExporter {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsoleExporter {
    /// Prints to stderr.
    pub fn new() -> Self {
        ConsoleExporter {
            stderr: true,
            ..Self::with_writer(std::io::stderr())
        }
    }

    /// Prints to any writer (a file, a buffer in tests).
    pub fn with_writer(out: impl Write + Send + 'static) -> Self {
        ConsoleExporter {
            out: Box::new(out),
            stderr: false,
            pending: HashMap::new(),
            pending_spans: 0,
            order: Vec::new(),
            last_resource: None,
        }
    }

    fn print_trace(&mut self, trace_id: TraceId, resource: &Resource) -> Result<(), ExportError> {
        let Some(spans) = self.pending.remove(&trace_id) else {
            return Ok(());
        };
        self.pending_spans -= spans.len();
        self.order.retain(|t| *t != trace_id);
        let mut text = format!("trace {trace_id} · service {}\n", resource.service_name());
        render_tree(&spans, &mut text, true);
        self.out
            .write_all(text.as_bytes())
            .map_err(|e| ExportError::with_source("console exporter could not write", e))
    }

    fn print_all(&mut self, resource: &Resource) -> Result<(), ExportError> {
        for trace_id in self.order.clone() {
            self.print_trace(trace_id, resource)?;
        }
        self.out
            .flush()
            .map_err(|e| ExportError::with_source("console exporter could not flush", e))
    }
}

impl Exporter for ConsoleExporter {
    /// A console exporter to stderr carries over to a forked child; one with another writer
    /// does not (the writer cannot be copied).
    fn after_fork(&self) -> Option<Box<dyn Exporter>> {
        self.stderr
            .then(|| Box::new(ConsoleExporter::new()) as Box<dyn Exporter>)
    }

    fn export(&mut self, spans: &[SpanRecord], resource: &Resource) -> Result<(), ExportError> {
        let mut complete = Vec::new();
        for span in spans {
            if !self.pending.contains_key(&span.trace_id) {
                self.order.push(span.trace_id);
            }
            self.pending
                .entry(span.trace_id)
                .or_default()
                .push(span.clone());
            self.pending_spans += 1;
            if span.is_root() || span.parent_is_remote {
                complete.push(span.trace_id);
            }
        }
        for trace_id in complete {
            self.print_trace(trace_id, resource)?;
        }
        while self.pending_spans > MAX_PENDING_SPANS {
            let oldest = self.order[0];
            self.print_trace(oldest, resource)?;
        }
        self.last_resource = Some(resource.clone());
        Ok(())
    }

    fn force_flush(&mut self) -> Result<(), ExportError> {
        let resource = self.last_resource.clone().unwrap_or_default();
        self.print_all(&resource)
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        self.force_flush()
    }
}

/// Renders spans as trees: roots are spans whose parent is not among them; children are
/// ordered by start time. With `timing`, durations are shown (the console); without, the text
/// depends only on structure, names, kinds, statuses and attributes (snapshot tests).
pub(crate) fn render_tree(spans: &[SpanRecord], out: &mut String, timing: bool) {
    let ids: std::collections::HashSet<SpanId> = spans.iter().map(|s| s.span_id).collect();
    let mut children: HashMap<SpanId, Vec<&SpanRecord>> = HashMap::new();
    let mut roots = Vec::new();
    for s in spans {
        if s.parent_span_id.is_valid() && ids.contains(&s.parent_span_id) {
            children.entry(s.parent_span_id).or_default().push(s);
        } else {
            roots.push(s);
        }
    }
    let order = |v: &mut Vec<&SpanRecord>| {
        v.sort_by(|a, b| (a.start_time_unix_nano, &a.name).cmp(&(b.start_time_unix_nano, &b.name)))
    };
    order(&mut roots);
    for v in children.values_mut() {
        order(v);
    }
    let count = roots.len();
    for (i, root) in roots.into_iter().enumerate() {
        render_node(root, &children, "", i + 1 == count, out, timing);
    }
}

fn render_node(
    span: &SpanRecord,
    children: &HashMap<SpanId, Vec<&SpanRecord>>,
    prefix: &str,
    last: bool,
    out: &mut String,
    timing: bool,
) {
    let _ = write!(
        out,
        "{prefix}{}{}",
        if last { "└─ " } else { "├─ " },
        span.name
    );
    if span.kind != SpanKind::Internal {
        let _ = write!(out, " [{}]", span.kind);
    }
    if span.parent_is_remote {
        let _ = write!(out, " (remote parent {})", span.parent_span_id);
    }
    if timing {
        let _ = write!(out, " {}", human_duration(span.duration_nanos()));
    }
    match &span.status {
        Status::Unset => {}
        Status::Ok => out.push_str(" ok"),
        Status::Error { message } => {
            let _ = write!(out, " ERROR {message}");
        }
    }
    for kv in &span.attributes {
        match &kv.value {
            Value::Str(s) => {
                let _ = write!(out, " {}={:?}", kv.key, s);
            }
            v => {
                let _ = write!(out, " {}={v}", kv.key);
            }
        }
    }
    out.push('\n');
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    for event in &span.events {
        let _ = write!(out, "{child_prefix}· {}", event.name);
        if timing {
            let offset = event
                .time_unix_nano
                .saturating_sub(span.start_time_unix_nano);
            let _ = write!(out, " +{}", human_duration(offset));
        }
        for kv in &event.attributes {
            let _ = write!(out, " {}={}", kv.key, kv.value);
        }
        out.push('\n');
    }
    let kids = children
        .get(&span.span_id)
        .map_or(&[][..], |v| v.as_slice());
    for (i, child) in kids.iter().enumerate() {
        render_node(
            child,
            children,
            &child_prefix,
            i + 1 == kids.len(),
            out,
            timing,
        );
    }
}

fn human_duration(nanos: u64) -> String {
    match nanos {
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{:.1}µs", n as f64 / 1e3),
        n if n < 1_000_000_000 => format!("{:.2}ms", n as f64 / 1e6),
        n => format!("{:.2}s", n as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::TraceFlags;
    use crate::span::KeyValue;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn span(id: u64, parent: u64, name: &'static str, start: u64) -> SpanRecord {
        SpanRecord {
            trace_id: TraceId::from_u128(7),
            span_id: SpanId::from_u64(id),
            parent_span_id: SpanId::from_u64(parent),
            parent_is_remote: false,
            trace_flags: TraceFlags::SAMPLED,
            trace_state: Default::default(),
            name: name.into(),
            kind: SpanKind::Internal,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 1_500_000,
            attributes: Default::default(),
            events: vec![],
            links: vec![],
            status: Status::Unset,
            dropped_attributes_count: 0,
            dropped_events_count: 0,
            dropped_links_count: 0,
        }
    }

    #[test]
    fn prints_a_tree_when_the_root_arrives() {
        let buf = Buf::default();
        let mut exp = ConsoleExporter::with_writer(buf.clone());
        let resource = Resource::new([KeyValue::new("service.name", "shop")]);
        let mut b = span(3, 2, "charge", 30);
        b.status = Status::error("card declined");
        b.kind = SpanKind::Client;
        exp.export(&[span(2, 1, "load", 10), b], &resource).unwrap();
        assert!(buf.0.lock().unwrap().is_empty());
        let mut root = span(1, 0, "checkout", 0);
        root.attributes.push(KeyValue::new("user.id", 42));
        exp.export(&[span(4, 1, "reply", 40), root], &resource)
            .unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "trace 00000000000000000000000000000007 · service shop\n\
             └─ checkout 1.50ms user.id=42\n   \
                ├─ load 1.50ms\n   \
                │  └─ charge [client] 1.50ms ERROR card declined\n   \
                └─ reply 1.50ms\n"
        );
    }

    #[test]
    fn flush_prints_orphans() {
        let buf = Buf::default();
        let mut exp = ConsoleExporter::with_writer(buf.clone());
        exp.export(&[span(2, 1, "late_child", 10)], &Resource::default())
            .unwrap();
        exp.force_flush().unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("└─ late_child"), "{text}");
    }
}
