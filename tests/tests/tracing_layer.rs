//! `tracing` spans and events through traceweave's layer: nesting both ways (sync, async,
//! spawned), fields and the `otel.*` conventions, events on whichever span is current, filters,
//! and trace ids in `fmt` log lines (text and JSON).

use std::io::Write;
use std::sync::{Arc, Mutex};

use traceweave::integrations::tracing::{WithTraceIds, layer};
use traceweave::testing::{Capture, Spans, capture, capture_async};
use traceweave::{SpanKind, Status, Value, traced};
use tracing::instrument::WithSubscriber;
use tracing::{Instrument, info_span};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// A subscriber with the layer (no code locations, so trees stay short), for this thread.
fn subscribe() -> tracing::subscriber::DefaultGuard {
    tracing_subscriber::registry()
        .with(layer().with_location(false))
        .set_default()
}

fn dispatch() -> tracing::Dispatch {
    tracing_subscriber::registry()
        .with(layer().with_location(false))
        .into()
}

#[tracing::instrument]
fn instrumented_leaf(n: i64) {
    tracing::info!(n, "leaf ran");
}

#[traced]
fn traced_calls_instrumented() {
    instrumented_leaf(7);
}

#[traced]
fn traced_leaf() {}

#[test]
fn an_instrument_fn_inside_a_traced_fn_is_its_child() {
    let _s = subscribe();
    let spans = capture(traced_calls_instrumented);
    assert_eq!(
        spans.tree(),
        "└─ traced_calls_instrumented\n   └─ instrumented_leaf n=7\n      \
        · leaf ran level=INFO target=tracing_layer n=7\n"
    );
}

#[test]
fn a_traced_fn_inside_a_tracing_span_is_its_child() {
    let _s = subscribe();
    let spans = capture(|| {
        let outer = info_span!("outer", user = "ann");
        let _g = outer.enter();
        traced_leaf();
        info_span!("sibling").in_scope(traced_leaf);
    });
    assert_eq!(
        spans.tree(),
        "└─ outer user=\"ann\"\n   ├─ traced_leaf\n   └─ sibling\n      └─ traced_leaf\n"
    );
    let outer = spans.named("outer").unwrap();
    assert!(spans.iter().all(|s| s.trace_id == outer.trace_id));
}

/// The layer remembers the span a thread made last for its first enter: spans entered in
/// another order, entered again, or entered first on another thread must still each push
/// their own context.
#[test]
fn spans_entered_out_of_creation_order_or_elsewhere_keep_their_children() {
    let _s = subscribe();
    let spans = capture(|| {
        let a = info_span!("a");
        let b = info_span!("b");
        // `b` was made last: entering `a` first must not take `b`'s context.
        a.in_scope(traced_leaf);
        b.in_scope(traced_leaf);
        a.in_scope(traced_leaf);
        let c = info_span!("c");
        let d = std::thread::scope(|s| {
            s.spawn(|| {
                // Entered first here, while this thread's last-made span is another one.
                let _s = subscribe();
                c.in_scope(|| {});
            });
            info_span!("d")
        });
        c.in_scope(traced_leaf);
        drop(c);
        d.in_scope(traced_leaf);
    });
    assert_eq!(
        spans.tree(),
        "├─ a\n│  ├─ traced_leaf\n│  └─ traced_leaf\n├─ b\n│  └─ traced_leaf\n├─ c\n│  └─ \
         traced_leaf\n└─ d\n   └─ traced_leaf\n"
    );
}

#[traced]
async fn traced_async_leaf() {
    tokio::task::yield_now().await;
}

#[tracing::instrument]
async fn instrumented_async(step: u32) {
    tokio::task::yield_now().await;
    traced_async_leaf().await;
    tokio::task::yield_now().await;
}

#[traced]
async fn traced_async_calls_instrumented() {
    instrumented_async(1).await;
    instrumented_async(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nesting_holds_both_ways_across_awaits_and_threads() {
    let spans = capture_async(traced_async_calls_instrumented().with_subscriber(dispatch())).await;
    assert_eq!(
        spans.tree(),
        "└─ traced_async_calls_instrumented\n\
        \x20  ├─ instrumented_async step=1\n\
        \x20  │  └─ traced_async_leaf\n\
        \x20  └─ instrumented_async step=2\n\
        \x20     └─ traced_async_leaf\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_instrumented_futures_stay_in_the_trace() {
    let spans = capture_async(
        async {
            let request = info_span!("request");
            let tasks: Vec<_> = request.in_scope(|| {
                (0..8)
                    .map(|i| {
                        // Created under `request`, so its child wherever the task runs.
                        let work = info_span!("work", i);
                        tokio::spawn(
                            async move {
                                tokio::task::yield_now().await;
                                traced_async_leaf().await;
                            }
                            .instrument(work)
                            .with_current_subscriber(),
                        )
                    })
                    .chain((8..10).map(|i| {
                        // traceweave::spawn carries the context: `request` is current here.
                        traceweave::spawn(instrumented_async(i).with_current_subscriber())
                    }))
                    .collect()
            });
            drop(request);
            for t in tasks {
                t.await.unwrap();
            }
        }
        .with_subscriber(dispatch()),
    )
    .await;
    assert_eq!(spans.len(), 1 + 8 * 2 + 2 * 2, "{}", spans.tree());
    let request = spans.named("request").unwrap();
    for work in spans.iter().filter(|s| s.name == "work") {
        assert_eq!(work.parent_span_id, request.span_id, "{}", spans.tree());
        let leaf = spans
            .iter()
            .find(|s| s.name == "traced_async_leaf" && s.parent_span_id == work.span_id);
        assert!(leaf.is_some(), "{}", spans.tree());
    }
    let spawned: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "instrumented_async")
        .collect();
    assert_eq!(spawned.len(), 2);
    assert!(spawned.iter().all(|s| s.parent_span_id == request.span_id));
    assert!(spans.iter().all(|s| s.trace_id == request.trace_id));
}

#[test]
fn fields_become_typed_attributes_and_otel_fields_are_understood() {
    let _s = subscribe();
    let spans = capture(|| {
        let span = info_span!(
            "raw name",
            otel.name = "GET /orders",
            otel.kind = "server",
            count = 3u64,
            big = u64::MAX,
            ratio = 0.5,
            ok = true,
            who = "ann",
            shown = %"display",
            debugged = ?vec![1, 2],
            later = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            otel.status_description = tracing::field::Empty,
        );
        span.record("later", 42i64);
        span.record("otel.status_code", "ERROR");
        span.record("otel.status_description", "backend down");
        let client = info_span!("call", otel.kind = "client", otel.status_code = "ok");
        drop(client);
        let failing = info_span!("failing", error = tracing::field::Empty);
        let err = std::io::Error::other("disk full");
        failing.record("error", &err as &dyn std::error::Error);
        drop(failing);
        drop(span);
    });
    let s = spans
        .named("GET /orders")
        .unwrap_or_else(|| panic!("{}", spans.tree()));
    assert_eq!(s.kind, SpanKind::Server);
    let attr = |k: &str| {
        s.attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(attr("count"), Some(Value::I64(3)));
    assert_eq!(attr("big"), Some(Value::from(u64::MAX.to_string())));
    assert_eq!(attr("ratio"), Some(Value::F64(0.5)));
    assert_eq!(attr("ok"), Some(Value::Bool(true)));
    assert_eq!(attr("who"), Some(Value::from("ann")));
    assert_eq!(attr("shown"), Some(Value::from("display")));
    assert_eq!(attr("debugged"), Some(Value::from("[1, 2]")));
    assert_eq!(attr("later"), Some(Value::I64(42)));
    assert!(attr("otel.kind").is_none() && attr("otel.name").is_none());
    assert_eq!(s.status, Status::error("backend down"));
    let call = spans.named("call").unwrap();
    assert_eq!((call.kind, &call.status), (SpanKind::Client, &Status::Ok));
    let failing = spans.named("failing").unwrap();
    assert_eq!(failing.status, Status::error("disk full"));
}

#[traced]
fn traced_that_logs() {
    tracing::info!(order = 7, "reserved");
    tracing::error!(error = "card declined", "payment failed");
}

#[test]
fn events_land_on_the_current_span_whichever_api_opened_it() {
    let _s = subscribe();
    let spans = capture(|| {
        let outer = info_span!("outer");
        let _g = outer.enter();
        tracing::warn!(attempt = 2, "retrying");
        traced_that_logs();
        tracing::info!(parent: &outer, "explicit parent");
        tracing::info!(parent: None, "a root event goes nowhere");
    });
    let outer = spans.named("outer").unwrap();
    let names: Vec<&str> = outer.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names, ["retrying", "explicit parent"], "{:?}", outer.events);
    let warn = &outer.events[0];
    let get = |e: &traceweave::Event, k: &str| {
        e.attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(get(warn, "level"), Some(Value::from("WARN")));
    assert_eq!(get(warn, "target"), Some(Value::from("tracing_layer")));
    assert_eq!(get(warn, "attempt"), Some(Value::I64(2)));
    // Inside the #[traced] fn the events are that span's, and ERROR does not fail it by default.
    let traced = spans.named("traced_that_logs").unwrap();
    let names: Vec<&str> = traced.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names, ["reserved", "payment failed"]);
    assert_eq!(
        get(&traced.events[1], "exception.message"),
        Some(Value::from("card declined"))
    );
    assert_eq!(traced.status, Status::Unset);
    assert!(traced.events[0].time_unix_nano >= traced.start_time_unix_nano);
    assert!(traced.events[1].time_unix_nano <= traced.end_time_unix_nano);
}

#[test]
fn error_events_fail_spans_only_when_asked() {
    let _s = tracing_subscriber::registry()
        .with(layer().with_location(false).error_events_fail_spans(true))
        .set_default();
    let spans = capture(|| {
        traced_that_logs();
        info_span!("quiet").in_scope(|| tracing::error!("boom"));
    });
    assert_eq!(
        spans.named("traced_that_logs").unwrap().status,
        Status::error("card declined")
    );
    assert_eq!(spans.named("quiet").unwrap().status, Status::error("boom"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_a_traced_async_fn_follow_it_across_polls() {
    #[traced]
    async fn waits_and_logs() {
        tracing::info!("before");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        tracing::info!("after");
    }
    let spans = capture_async(
        async {
            let tasks: Vec<_> = (0..4)
                .map(|_| traceweave::spawn(waits_and_logs().with_current_subscriber()))
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
        .with_subscriber(dispatch()),
    )
    .await;
    assert_eq!(spans.len(), 4);
    for s in spans.iter() {
        let names: Vec<&str> = s.events.iter().map(|e| e.name.as_ref()).collect();
        assert_eq!(names, ["before", "after"]);
    }
}

#[test]
fn events_without_a_current_span_are_dropped() {
    let _s = subscribe();
    let spans = capture(|| {
        tracing::info!("nobody listens");
        traced_leaf();
    });
    assert_eq!(spans.tree(), "└─ traced_leaf\n");
    assert!(spans.named("traced_leaf").unwrap().events.is_empty());
}

#[test]
fn filtered_out_spans_are_not_recorded_and_their_children_move_up() {
    let filter = Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("noisy", LevelFilter::OFF);
    let _s = tracing_subscriber::registry()
        .with(layer().with_location(false).with_filter(filter))
        .set_default();
    let spans = capture(|| {
        let outer = info_span!("outer");
        let _g = outer.enter();
        let debug = tracing::debug_span!("too detailed");
        let _d = debug.enter();
        let noisy = info_span!(target: "noisy", "noisy span");
        let _n = noisy.enter();
        tracing::info!(target: "noisy", "noisy event");
        traced_leaf();
        tracing::debug!("debug event");
    });
    assert_eq!(spans.tree(), "└─ outer\n   └─ traced_leaf\n");
    assert!(spans.named("outer").unwrap().events.is_empty());
}

#[test]
fn an_unsampled_trace_records_no_tracing_spans() {
    let _s = subscribe();
    let captured = Capture::new().sampler(traceweave::AlwaysOff).run(|| {
        let outer = info_span!("outer");
        let _g = outer.enter();
        traced_calls_instrumented();
        tracing::info!("dropped");
    });
    assert!(captured.spans.is_empty(), "{}", captured.spans.tree());
}

#[test]
fn locations_are_recorded_by_default() {
    let _s = tracing_subscriber::registry().with(layer()).set_default();
    let spans = capture(|| instrumented_leaf(1));
    let s = spans.named("instrumented_leaf").unwrap();
    let get = |k: &str| s.attributes.iter().find(|kv| kv.key.as_str() == k);
    assert_eq!(
        get("code.file.path").unwrap().value,
        Value::from("tests/tests/tracing_layer.rs")
    );
    assert_eq!(
        get("code.namespace").unwrap().value,
        Value::from("tracing_layer")
    );
    assert!(matches!(get("code.line.number").unwrap().value, Value::I64(n) if n > 0));
    assert!(
        s.events[0]
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "code.line.number")
    );
}

// ------------------------------------------------------------------ log lines

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

impl Buffer {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[traced]
fn logs_a_line() {
    tracing::info!(order = 7, "inside traced");
}

fn ids_of(spans: &Spans, name: &str) -> (String, String) {
    let s = spans.named(name).expect(name);
    (s.trace_id.to_string(), s.span_id.to_string())
}

#[test]
fn text_log_lines_carry_the_current_ids() {
    let out = Buffer::default();
    let _s = tracing_subscriber::registry()
        .with(layer())
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(out.clone())
                .event_format(WithTraceIds::new(tracing_subscriber::fmt::format())),
        )
        .set_default();
    let spans = capture(|| {
        logs_a_line();
        info_span!("tracing span").in_scope(|| tracing::warn!("inside tracing span"));
    });
    tracing::info!("outside any span");
    let lines = out.lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let (trace, span) = ids_of(&spans, "logs_a_line");
    assert!(
        lines[0].starts_with(&format!("trace_id={trace} span_id={span} ")),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("inside traced order=7"), "{}", lines[0]);
    let (trace, span) = ids_of(&spans, "tracing span");
    assert!(lines[1].starts_with(&format!("trace_id={trace} span_id={span} ")));
    assert!(!lines[2].contains("trace_id="), "{}", lines[2]);
}

#[test]
fn json_log_lines_carry_the_current_ids_as_members() {
    let out = Buffer::default();
    let _s = tracing_subscriber::registry()
        .with(layer())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(out.clone())
                .event_format(WithTraceIds::new(tracing_subscriber::fmt::format().json())),
        )
        .set_default();
    let spans = capture(logs_a_line);
    tracing::info!("outside any span");
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let line: serde_json::Value =
        serde_json::from_str(&lines[0]).unwrap_or_else(|e| panic!("{e}: {}", lines[0]));
    let (trace, span) = ids_of(&spans, "logs_a_line");
    assert_eq!(line["trace_id"], trace.as_str());
    assert_eq!(line["span_id"], span.as_str());
    assert_eq!(line["fields"]["message"], "inside traced");
    assert_eq!(line["fields"]["order"], 7);
    let outside: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert!(outside.get("trace_id").is_none());
}

#[test]
fn current_ids_names_the_innermost_span_of_either_api() {
    let _s = subscribe();
    assert!(traceweave::current_ids().is_none());
    let spans = capture(|| {
        let outer = info_span!("outer");
        let _g = outer.enter();
        let (trace, span) = traceweave::current_ids().unwrap();
        tracing::info!(trace = %trace, span = %span, "ids seen");
    });
    let outer = spans.named("outer").unwrap();
    let seen = &outer.events[0];
    let get = |k: &str| {
        seen.attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(get("trace"), Some(outer.trace_id.to_string()));
    assert_eq!(get("span"), Some(outer.span_id.to_string()));
}
