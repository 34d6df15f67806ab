//! The console exporter: each trace as an indented tree on stderr, readable at a glance.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;

use super::{ExportError, ExportErrorKind, Exporter, Resource};
use crate::id::{SpanId, TraceId};
use crate::span::{SpanBatch, SpanKind, SpanRecord, Status, Value};

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
        self.out.write_all(text.as_bytes()).map_err(|e| {
            ExportError::with_source(ExportErrorKind::Io, "console exporter could not write", e)
        })
    }

    fn take(
        &mut self,
        spans: impl Iterator<Item = SpanRecord>,
        resource: &Resource,
    ) -> Result<(), ExportError> {
        let mut complete = Vec::new();
        for span in spans {
            let trace_id = span.trace_id;
            if span.is_root() || span.parent_is_remote {
                complete.push(trace_id);
            }
            let pending = self.pending.entry(trace_id).or_default();
            if pending.is_empty() {
                self.order.push(trace_id);
            }
            pending.push(span);
            self.pending_spans += 1;
        }
        for trace_id in complete {
            self.print_trace(trace_id, resource)?;
        }
        while self.pending_spans > MAX_PENDING_SPANS {
            let oldest = self.order[0];
            self.print_trace(oldest, resource)?;
        }
        if self.last_resource.as_ref() != Some(resource) {
            self.last_resource = Some(resource.clone());
        }
        Ok(())
    }

    fn print_all(&mut self, resource: &Resource) -> Result<(), ExportError> {
        for trace_id in self.order.clone() {
            self.print_trace(trace_id, resource)?;
        }
        self.out.flush().map_err(|e| {
            ExportError::with_source(ExportErrorKind::Io, "console exporter could not flush", e)
        })
    }
}

impl Exporter for ConsoleExporter {
    /// A console exporter to stderr carries over to a forked child; one with another writer
    /// does not (the writer cannot be copied).
    fn after_fork(&self) -> Option<Box<dyn Exporter>> {
        self.stderr
            .then(|| Box::new(ConsoleExporter::new()) as Box<dyn Exporter>)
    }

    /// Keeps one owned copy of each span (a trace waits for its root), made straight from the
    /// collector's buffer.
    fn export(&mut self, batch: SpanBatch<'_>, resource: &Resource) -> Result<(), ExportError> {
        self.take(batch.iter().map(|s| s.to_record()), resource)
    }

    fn force_flush(&mut self) -> Result<(), ExportError> {
        let resource = self.last_resource.clone().unwrap_or_default();
        self.print_all(&resource)
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        self.force_flush()
    }
}

/// Indentation stops growing at this depth: deeper spans say their depth instead, so a trace
/// of any depth renders in output and memory linear in its span count.
const MAX_INDENT: usize = 48;

/// Renders spans as trees: roots are spans whose parent is not among them; children are
/// ordered by start time. With `timing`, durations are shown (the console); without, the text
/// depends only on structure, names, kinds, statuses and attributes (snapshot tests).
///
/// Iterative (an explicit stack, not recursion), so a 50,000-deep chain cannot overflow the
/// collector thread's stack; spans caught in a parent cycle are printed as roots.
pub(crate) fn render_tree(spans: &[SpanRecord], out: &mut String, timing: bool) {
    let ids: std::collections::HashSet<SpanId> = spans.iter().map(|s| s.span_id).collect();
    let mut children: HashMap<SpanId, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if s.parent_span_id.is_valid()
            && s.parent_span_id != s.span_id
            && ids.contains(&s.parent_span_id)
        {
            children.entry(s.parent_span_id).or_default().push(i);
        } else {
            roots.push(i);
        }
    }
    let order = |v: &mut Vec<usize>| {
        v.sort_by(|&a, &b| {
            let (a, b) = (&spans[a], &spans[b]);
            (a.start_time_unix_nano, &a.name).cmp(&(b.start_time_unix_nano, &b.name))
        })
    };
    order(&mut roots);
    for v in children.values_mut() {
        order(v);
    }
    let mut done = vec![false; spans.len()];
    let render = |roots: &[usize], out: &mut String, done: &mut Vec<bool>| {
        // (span index, depth, last among its siblings), popped in order.
        let mut stack: Vec<(usize, usize, bool)> = Vec::new();
        let count = roots.len();
        stack.extend(
            roots
                .iter()
                .enumerate()
                .rev()
                .map(|(i, &r)| (r, 0, i + 1 == count)),
        );
        // The prefix of the line being written, and its length at each depth up to MAX_INDENT.
        let mut prefix = String::new();
        let mut prefix_len = vec![0usize];
        while let Some((i, depth, last)) = stack.pop() {
            if std::mem::replace(&mut done[i], true) {
                continue;
            }
            let shown = depth.min(MAX_INDENT);
            prefix.truncate(prefix_len[shown]);
            let span = &spans[i];
            render_line(
                span,
                &prefix,
                last,
                (depth > MAX_INDENT).then_some(depth),
                out,
                timing,
            );
            let child_prefix = if last { "   " } else { "│  " };
            let kids = children
                .get(&span.span_id)
                .map_or(&[][..], |v| v.as_slice());
            if !span.events.is_empty() || !kids.is_empty() {
                if depth < MAX_INDENT {
                    prefix.push_str(child_prefix);
                    prefix_len.truncate(shown + 1);
                    prefix_len.push(prefix.len());
                }
                render_events(span, &prefix, out, timing);
            }
            let n = kids.len();
            stack.extend(
                kids.iter()
                    .enumerate()
                    .rev()
                    .map(|(k, &c)| (c, depth + 1, k + 1 == n)),
            );
        }
    };
    render(&roots, out, &mut done);
    // Whatever no root reached sits in a parent cycle: print it too, from its earliest span.
    while let Some(first) = (0..spans.len()).filter(|&i| !done[i]).min_by(|&a, &b| {
        (spans[a].start_time_unix_nano, &spans[a].name)
            .cmp(&(spans[b].start_time_unix_nano, &spans[b].name))
    }) {
        render(&[first], out, &mut done);
    }
}

/// One span's line: branch, name, kind, timing, status, attributes. `deep` is the depth of a
/// span past the indentation limit.
fn render_line(
    span: &SpanRecord,
    prefix: &str,
    last: bool,
    deep: Option<usize>,
    out: &mut String,
    timing: bool,
) {
    out.push_str(prefix);
    out.push_str(if last { "└─ " } else { "├─ " });
    if let Some(depth) = deep {
        let _ = write!(out, "[depth {depth}] ");
    }
    out.push_str(&span.name);
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
}

fn render_events(span: &SpanRecord, prefix: &str, out: &mut String, timing: bool) {
    for event in &span.events {
        let _ = write!(out, "{prefix}· {}", event.name);
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
            sw8_trace_id: None,
            sw8_parent: None,
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
        exp.export(
            SpanBatch::from_records(&[span(2, 1, "load", 10), b]),
            &resource,
        )
        .unwrap();
        assert!(buf.0.lock().unwrap().is_empty());
        let mut root = span(1, 0, "checkout", 0);
        root.attributes.push(KeyValue::new("user.id", 42));
        exp.export(
            SpanBatch::from_records(&[span(4, 1, "reply", 40), root]),
            &resource,
        )
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
    fn a_50000_deep_chain_renders_on_a_small_stack_in_linear_space() {
        const DEPTH: u64 = 50_000;
        let spans: Vec<SpanRecord> = (1..=DEPTH).map(|i| span(i, i - 1, "hop", i * 10)).collect();
        // 256 KiB of stack: recursion one frame per level would need megabytes.
        let text = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let buf = Buf::default();
                let mut exp = ConsoleExporter::with_writer(buf.clone());
                exp.export(SpanBatch::from_records(&spans), &Resource::default())
                    .unwrap();
                String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
            })
            .unwrap()
            .join()
            .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len() as u64,
            DEPTH + 1,
            "a header and one line per span"
        );
        // Indentation is capped, so the text grows linearly with the depth.
        let longest = lines.iter().map(|l| l.len()).max().unwrap();
        assert!(longest < 3 * 4 * (MAX_INDENT + 8), "{longest}");
        assert!(text.len() < 300 * DEPTH as usize, "{}", text.len());
        assert!(lines[2].starts_with("   └─ hop"), "{}", lines[2]);
        assert!(
            lines.last().unwrap().contains("[depth 49999] hop"),
            "{}",
            lines.last().unwrap()
        );
    }

    #[test]
    fn spans_in_a_parent_cycle_are_still_printed() {
        let mut text = String::new();
        // 2 -> 3 -> 2, and 4 is its own parent: no root reaches them.
        let spans = [
            span(1, 0, "root", 0),
            span(2, 3, "a", 10),
            span(3, 2, "b", 20),
            span(4, 4, "self", 30),
        ];
        render_tree(&spans, &mut text, false);
        for name in ["root", "a", "b", "self"] {
            assert!(text.contains(&format!("─ {name}")), "{name}: {text}");
        }
        assert_eq!(text.lines().count(), 4, "{text}");
    }

    #[test]
    fn flush_prints_orphans() {
        let buf = Buf::default();
        let mut exp = ConsoleExporter::with_writer(buf.clone());
        exp.export(
            SpanBatch::from_records(&[span(2, 1, "late_child", 10)]),
            &Resource::default(),
        )
        .unwrap();
        exp.force_flush().unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("└─ late_child"), "{text}");
    }
}
