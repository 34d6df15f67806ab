//! `traceweave::current_span()`: code inside a traced function changes its span without
//! holding it, in sync fns, across `.await`, inside `tracing` spans, and does nothing where no
//! span records.

use std::io;

use traceweave::testing::{capture, capture_async};
use traceweave::{KeyValue, SpanContext, Status, current_span, traced};

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for Declined {}

fn helper_that_annotates() {
    // Far from the span: no `Span` in hand.
    let span = current_span();
    assert!(span.is_recording());
    span.set_attribute("order.items", 3_i64);
    span.add_event("validated", vec![KeyValue::new("rule", "stock")]);
}

#[traced]
fn checkout() -> Result<(), Declined> {
    helper_that_annotates();
    let span = current_span();
    span.update_name("checkout card");
    span.record_error(&Declined);
    Err(Declined)
}

#[test]
fn sync_fns_get_attributes_events_names_and_errors() {
    let spans = capture(|| {
        let _ = checkout();
    });
    let s = spans.named("checkout card").expect("renamed");
    assert_eq!(s.attribute("order.items").unwrap().as_i64(), Some(3));
    assert_eq!(s.events[0].name, "validated");
    assert_eq!(s.events[1].name, "exception");
    let attr = |k: &str| {
        s.events[1]
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attr("exception.message").as_deref(), Some("card declined"));
    assert!(
        attr("exception.type").unwrap().ends_with("Declined"),
        "{:?}",
        attr("exception.type")
    );
    assert_eq!(s.status, Status::error("card declined"));
}

#[traced]
async fn inner() {
    current_span().set_attribute("inner", true);
}

#[traced]
async fn outer(link_to: SpanContext) {
    let span = current_span();
    span.set_attribute("before", 1_i64);
    tokio::task::yield_now().await;
    inner().await;
    // The handle still names `outer` after an await and a nested span.
    span.set_attribute("after", 2_i64);
    span.add_link(link_to, vec![]);
    span.set_status(Status::Ok);
    let err = io::Error::other("late");
    let as_dyn: &dyn std::error::Error = &err;
    current_span().record_error(as_dyn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handle_follows_its_span_across_awaits_and_nested_spans() {
    let linked = {
        let spans = capture(|| {
            #[traced]
            fn producer() {}
            producer();
        });
        let p = spans.named("producer").unwrap();
        SpanContext::new(p.trace_id, p.span_id, traceweave::TraceFlags::SAMPLED, true)
    };
    let spans = capture_async(outer(linked)).await;
    let outer = spans.named("outer").unwrap();
    let inner = spans.named("inner").unwrap();
    assert_eq!(outer.attribute("before").unwrap().as_i64(), Some(1));
    assert_eq!(outer.attribute("after").unwrap().as_i64(), Some(2));
    assert!(outer.attribute("inner").is_none());
    assert_eq!(inner.attribute("inner").unwrap().as_bool(), Some(true));
    assert_eq!(outer.links.len(), 1);
    assert_eq!(outer.links[0].span_id, linked.span_id());
    // `Ok` is final: the later error adds its event but not its status. Behind `dyn Error` the
    // type is unknown and left out.
    assert_eq!(outer.status, Status::Ok);
    let exception = outer.events.iter().find(|e| e.name == "exception").unwrap();
    assert!(
        exception
            .attributes
            .iter()
            .all(|kv| kv.key.as_str() != "exception.type")
    );
}

#[test]
fn nothing_happens_where_no_span_records() {
    let span = current_span();
    assert!(!span.is_recording());
    assert!(!span.span_context().is_valid());
    span.set_attribute("lost", 1_i64);
    span.record_error(&Declined);

    // A handle sent to another thread does not reach the span from there.
    let spans = capture(|| {
        #[traced]
        fn work() {
            let span = current_span();
            std::thread::scope(|s| {
                s.spawn(|| {
                    assert!(!span.is_recording());
                    span.set_attribute("from_thread", true);
                });
            });
            span.set_attribute("here", true);
        }
        work();
    });
    let work = spans.named("work").unwrap();
    assert!(work.attribute("from_thread").is_none());
    assert_eq!(work.attribute("here").unwrap().as_bool(), Some(true));
}

#[test]
fn a_tracing_span_is_current_too() {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber =
        tracing_subscriber::registry().with(traceweave::integrations::tracing::layer());
    let spans = capture(|| {
        tracing::subscriber::with_default(subscriber, || {
            let _g = tracing::info_span!("db.query").entered();
            current_span().set_attribute("db.rows", 12_i64);
        });
    });
    assert_eq!(
        spans
            .named("db.query")
            .unwrap()
            .attribute("db.rows")
            .unwrap()
            .as_i64(),
        Some(12)
    );
}
