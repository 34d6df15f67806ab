//! Nested traced functions of every shape form the exact tree their calls make.

use traceweave::testing::capture;
use traceweave::traced;

#[traced]
fn outer() {
    middle(1);
    middle(2);
}

#[traced(args(n))]
fn middle(n: u32) {
    leaf();
}

#[traced(name = "leaf.op", kind = client)]
fn leaf() {}

struct Repo {
    rows: Vec<u32>,
}

impl Repo {
    #[traced(args(id), attrs(db.system = "memory", db.rows = self.rows.len()))]
    fn find(&self, id: u32) -> Option<u32> {
        self.rows.iter().copied().find(|r| *r == id)
    }

    #[traced(ret)]
    fn insert(&mut self, row: u32) -> usize {
        self.rows.push(row);
        self.rows.len()
    }

    #[traced]
    fn into_rows(self) -> Vec<u32> {
        self.rows
    }
}

#[traced(args(?items))]
fn count<T>(items: &[T]) -> usize
where
    T: std::fmt::Debug + Clone,
{
    items.len()
}

#[traced(args(%name))]
fn greet<'a>(name: &'a str) -> &'a str {
    name
}

#[test]
fn nested_sync_calls_form_the_call_tree() {
    let spans = capture(outer);
    assert_eq!(
        spans.tree(),
        "└─ outer\n   \
            ├─ middle n=1\n   \
            │  └─ leaf.op [client]\n   \
            └─ middle n=2\n      \
               └─ leaf.op [client]\n"
    );
    let outer = spans.named("outer").unwrap();
    assert!(outer.is_root());
    assert!(spans.iter().all(|s| s.trace_id == outer.trace_id));
    assert!(
        spans
            .iter()
            .all(|s| s.trace_flags.is_sampled() && s.trace_flags.is_random_trace_id())
    );
    for s in spans.iter() {
        assert!(s.end_time_unix_nano >= s.start_time_unix_nano, "{s:?}");
    }
}

#[test]
fn methods_generics_and_lifetimes_record_only_what_is_named() {
    let spans = capture(|| {
        let mut repo = Repo { rows: vec![1, 2] };
        assert_eq!(repo.find(2), Some(2));
        assert_eq!(repo.insert(3), 3);
        assert_eq!(count(&["a", "b"]), 2);
        assert_eq!(greet("ann"), "ann");
        assert_eq!(repo.into_rows(), vec![1, 2, 3]);
    });
    assert_eq!(
        spans.tree(),
        "├─ find id=2 db.system=\"memory\" db.rows=2\n\
         ├─ insert return=\"3\"\n\
         ├─ count items=\"[\\\"a\\\", \\\"b\\\"]\"\n\
         ├─ greet name=\"ann\"\n\
         └─ into_rows\n"
    );
}

#[test]
fn no_current_span_outside_traced_code() {
    let spans = capture(|| {
        leaf();
        assert!(!traceweave::Context::current().has_span());
    });
    assert_eq!(spans.len(), 1);
}

#[test]
fn root_starts_a_new_trace() {
    #[traced(root)]
    fn detached() {}
    #[traced]
    fn parent() {
        detached();
    }
    let spans = capture(parent);
    let p = spans.named("parent").unwrap();
    let d = spans.named("detached").unwrap();
    assert!(d.is_root());
    assert_ne!(p.trace_id, d.trace_id);
}

#[test]
fn explicit_parent_context() {
    #[traced(parent = ctx)]
    fn continued(ctx: &traceweave::Context) {
        let _ = ctx;
    }
    let spans = capture(|| {
        let span = traceweave::span("origin").start();
        let ctx = span.context();
        span.end();
        continued(&ctx);
    });
    let origin = spans.named("origin").unwrap();
    let cont = spans.named("continued").unwrap();
    assert_eq!(cont.parent_span_id, origin.span_id);
    assert_eq!(cont.trace_id, origin.trace_id);
}

#[test]
fn manual_spans_carry_every_field() {
    use traceweave::{KeyValue, SpanKind, Status, Value};
    let spans = capture(|| {
        let linked = traceweave::span("producer")
            .kind(SpanKind::Producer)
            .start();
        let link_to = linked.context().span_context().to_owned();
        linked.end();
        let mut s = traceweave::span(format!("dynamic-{}", 1))
            .kind(SpanKind::Consumer)
            .attribute("first", 1)
            .link(link_to, vec![KeyValue::new("link.reason", "batch")])
            .start();
        s.set_attribute("flag", true);
        s.set_attribute(String::from("owned.key"), 2.5);
        s.set_attribute("after.spill", "static");
        s.add_event("retry", vec![KeyValue::new("attempt", 2)]);
        s.update_name("renamed");
        s.set_status(Status::error("gave up"));
        s.set_status(Status::Ok);
        s.set_status(Status::error("ignored after ok"));
        s.end();
    });
    let s = spans.named("renamed").unwrap();
    let keys: Vec<_> = s.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["first", "flag", "owned.key", "after.spill"]);
    assert_eq!(s.attribute("owned.key"), Some(&Value::F64(2.5)));
    assert_eq!(s.status, Status::Ok);
    assert_eq!(s.kind, SpanKind::Consumer);
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.events[0].name, "retry");
    assert!(s.events[0].time_unix_nano >= s.start_time_unix_nano);
    assert!(s.events[0].time_unix_nano <= s.end_time_unix_nano);
    let producer = spans.named("producer").unwrap();
    assert_eq!(s.links.len(), 1);
    assert_eq!(s.links[0].span_id, producer.span_id);
    assert_eq!(
        s.links[0].attributes[0],
        KeyValue::new("link.reason", "batch")
    );
}
