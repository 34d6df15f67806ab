//! The `log` crate through traceweave's logger wrapper: records inside a span become its events
//! and reach the wrapped logger with the span's ids; records outside any span pass unchanged.
//! (Its own test binary: the `log` logger is process-global.)

use std::sync::Mutex;

use traceweave::testing::{capture, capture_async};
use traceweave::{Value, traced};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Lines;

impl log::Log for Lines {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record<'_>) {
        LINES.lock().unwrap().push(format!(
            "{} {} {}",
            record.level(),
            record.target(),
            record.args()
        ));
    }
    fn flush(&self) {}
}

#[traced]
fn reserve(order: u32) {
    log::info!("reserving order {order}");
    log::debug!("below the logger's level: neither a line nor an event");
    log::warn!(target: "stock", "low stock");
}

#[traced]
async fn ship() {
    log::info!("packing");
    tokio::task::yield_now().await;
    log::info!("handed to the carrier");
}

#[tokio::test]
async fn log_records_become_events_and_lines_carry_the_ids() {
    traceweave::integrations::log::init(Lines, log::LevelFilter::Trace).unwrap();

    log::info!("before any span");
    let spans = capture(|| reserve(7));
    let s = spans.named("reserve").unwrap();
    let names: Vec<&str> = s.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names, ["reserving order 7", "low stock"]);
    let attr = |i: usize, k: &str| {
        s.events[i]
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(attr(1, "level"), Some(Value::from("WARN")));
    assert_eq!(attr(1, "target"), Some(Value::from("stock")));
    assert_eq!(
        attr(0, "code.file.path"),
        Some(Value::from("tests/tests/log_bridge.rs"))
    );

    let async_spans = capture_async(ship()).await;
    let shipped = async_spans.named("ship").unwrap();
    let names: Vec<&str> = shipped.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names, ["packing", "handed to the carrier"]);

    let lines = LINES.lock().unwrap().clone();
    let ids = format!("trace_id={} span_id={}", s.trace_id, s.span_id);
    assert_eq!(
        lines,
        [
            "INFO log_bridge before any span".to_owned(),
            format!("INFO log_bridge reserving order 7 {ids}"),
            format!("WARN stock low stock {ids}"),
            format!(
                "INFO log_bridge packing trace_id={} span_id={}",
                shipped.trace_id, shipped.span_id
            ),
            format!(
                "INFO log_bridge handed to the carrier trace_id={} span_id={}",
                shipped.trace_id, shipped.span_id
            ),
        ]
    );
}
