//! A value whose `Debug` or `Display` runs to 100 MB costs what the span keeps, not its full size:
//! formatting stops at the span's value length limit (or the cap on formatted values), on every
//! path a value is formatted for a span — `#[traced(args(?x))]`, `args(%x)`, `ret`, an `Err`'s
//! status, a `tracing` field, a `tracing` event field, and `current_span().record_error`.

use std::cell::Cell;
use std::fmt;

use traceweave::testing::{Capture, capture};
use traceweave::{FORMATTED_VALUE_CAP, SpanLimits, Value, current_span, traced};
use tracing_subscriber::prelude::*;

const CHUNK: usize = 1 << 20; // 1 MiB per write
const CHUNKS: usize = 100; // 100 MiB in all

thread_local! {
    /// How many bytes the hostile value was allowed to write, across all its formattings.
    static WRITTEN: Cell<usize> = const { Cell::new(0) };
}

/// Writes 100 MiB of `x` in 1 MiB pieces, stopping when the writer refuses.
struct Huge;

impl Huge {
    fn write(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chunk = "x".repeat(CHUNK);
        for _ in 0..CHUNKS {
            f.write_str(&chunk)?;
            WRITTEN.with(|w| w.set(w.get() + CHUNK));
        }
        Ok(())
    }
}

impl fmt::Debug for Huge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Self::write(f)
    }
}

impl fmt::Display for Huge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Self::write(f)
    }
}

impl std::error::Error for Huge {}

#[traced(args(?a, %b))]
fn takes(a: &Huge, b: &Huge) {
    let _ = (a, b);
}

#[traced(ret)]
fn returns() -> Huge {
    Huge
}

#[traced]
fn fails() -> Result<(), Huge> {
    Err(Huge)
}

#[traced]
fn fails_debug_only() -> Result<(), DebugOnly> {
    Err(DebugOnly)
}

/// An error with `Debug` but no `Display`: its status text comes from `Debug`.
struct DebugOnly;

impl fmt::Debug for DebugOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Huge::write(f)
    }
}

#[traced]
fn records_error() {
    current_span().record_error(&Huge);
}

fn text(v: Option<&Value>) -> usize {
    match v {
        Some(Value::Str(s)) => s.chars().count(),
        other => panic!("a string, not {other:?}"),
    }
}

/// Not one 1 MiB piece was accepted whole: formatting stopped inside the first.
fn assert_stopped_early(what: &str) {
    let written = WRITTEN.with(|w| w.replace(0));
    assert_eq!(written, 0, "{what}: the writer took {written} bytes");
}

#[test]
fn arguments_return_values_and_errors_stop_at_the_cap() {
    let cap = FORMATTED_VALUE_CAP as usize;
    let spans = capture(|| {
        takes(&Huge, &Huge);
        let _ = returns();
        let _ = fails();
        let _ = fails_debug_only();
        records_error();
    });
    assert_stopped_early("args, ret, errors");
    let s = spans.named("takes").unwrap();
    assert_eq!(text(s.attribute("a")), cap);
    assert_eq!(text(s.attribute("b")), cap);
    assert_eq!(
        text(spans.named("returns").unwrap().attribute("return")),
        cap
    );
    for name in ["fails", "fails_debug_only", "records_error"] {
        let s = spans.named(name).unwrap();
        match &s.status {
            traceweave::Status::Error { message } => {
                assert_eq!(message.chars().count(), cap, "{name}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn a_configured_limit_stops_formatting_there() {
    let limits = SpanLimits::default().with_attribute_value_length(Some(100));
    let spans = Capture::new()
        .span_limits(limits)
        .run(|| takes(&Huge, &Huge))
        .spans;
    assert_stopped_early("args under a limit");
    let s = spans.named("takes").unwrap();
    assert_eq!(text(s.attribute("a")), 100);
}

#[test]
fn tracing_fields_and_events_stop_at_the_cap() {
    let _s = tracing_subscriber::registry()
        .with(traceweave::integrations::tracing::layer().with_location(false))
        .set_default();
    let spans = capture(|| {
        let span = tracing::info_span!("fields", v = ?Huge, later = tracing::field::Empty);
        let _e = span.enter();
        span.record("later", tracing::field::debug(&Huge));
        tracing::info!(w = ?Huge, "an event");
        tracing::error!(
            error = &Huge as &(dyn std::error::Error + 'static),
            "failed"
        );
    });
    assert_stopped_early("tracing fields and events");
    let s = spans.named("fields").unwrap();
    let cap = FORMATTED_VALUE_CAP as usize;
    assert_eq!(text(s.attribute("v")), cap);
    assert_eq!(text(s.attribute("later")), cap);
    let event = s.events.iter().find(|e| e.name == "an event").unwrap();
    let w = event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "w")
        .unwrap();
    assert_eq!(text(Some(&w.value)), cap);
}
