//! The `log` crate: records written while a span is current become events on that span, and
//! reach the wrapped logger with the span's ids appended (`… trace_id=… span_id=…`), whatever
//! the logger (`env_logger`, `simple_logger`, a syslog backend...).
//!
//! ```no_run
//! struct Stderr;
//! impl log::Log for Stderr {
//!     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
//!     fn log(&self, record: &log::Record<'_>) { eprintln!("{} {}", record.level(), record.args()) }
//!     fn flush(&self) {}
//! }
//! traceweave::integrations::log::init(Stderr, log::LevelFilter::Info).unwrap();
//! ```
//!
//! (A service that already routes `log` into `tracing` with `tracing-log` gets the same through
//! the [`tracing`](super::tracing) layer instead.)

use std::fmt::Write as _;

use crate::semconv;
use crate::span::{Event, KeyValue, clock, inbox};

/// Wraps a `log::Log`: see the [module](self).
#[derive(Debug)]
pub struct Logger<L> {
    inner: L,
    events: bool,
    ids: bool,
}

impl<L: log::Log> Logger<L> {
    /// Wraps `inner`: events on the current span and ids in the lines, both on.
    ///
    /// ```
    /// use log::Log;
    /// use std::sync::{Arc, Mutex};
    ///
    /// /// A logger keeping its lines (any `log::Log` works the same way).
    /// #[derive(Clone, Default)]
    /// struct Lines(Arc<Mutex<Vec<String>>>);
    /// impl Log for Lines {
    ///     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
    ///     fn log(&self, record: &log::Record<'_>) {
    ///         self.0.lock().unwrap().push(record.args().to_string());
    ///     }
    ///     fn flush(&self) {}
    /// }
    ///
    /// let lines = Lines::default();
    /// let logger = traceweave::integrations::log::Logger::new(lines.clone());
    /// let spans = traceweave::testing::capture(|| {
    ///     let _span = traceweave::span("import").start().enter();
    ///     logger.log(&log::Record::builder().args(format_args!("3 rows")).level(log::Level::Info).build());
    /// });
    /// assert_eq!(spans.named("import").unwrap().events[0].name, "3 rows");
    /// assert!(lines.0.lock().unwrap()[0].contains(" trace_id="));
    /// ```
    pub fn new(inner: L) -> Self {
        Logger {
            inner,
            events: true,
            ids: true,
        }
    }

    /// Whether records become events of the current span (default `true`).
    pub fn span_events(mut self, on: bool) -> Self {
        self.events = on;
        self
    }

    /// Whether records reach the inner logger with ` trace_id=… span_id=…` appended to their
    /// message (default `true`).
    pub fn ids_in_lines(mut self, on: bool) -> Self {
        self.ids = on;
        self
    }
}

/// Installs `Logger::new(inner)` as the `log` crate's logger, with `level` as its maximum.
pub fn init<L: log::Log + 'static>(
    inner: L,
    level: log::LevelFilter,
) -> Result<(), log::SetLoggerError> {
    log::set_boxed_logger(Box::new(Logger::new(inner)))?;
    log::set_max_level(level);
    Ok(())
}

fn level_text(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "ERROR",
        log::Level::Warn => "WARN",
        log::Level::Info => "INFO",
        log::Level::Debug => "DEBUG",
        log::Level::Trace => "TRACE",
    }
}

impl<L: log::Log> log::Log for Logger<L> {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.inner.enabled(record.metadata()) {
            return;
        }
        if self.events && crate::context::top_span_frame().is_some() {
            let mut message = String::new();
            let _ = write!(message, "{}", record.args());
            let mut attributes = vec![
                KeyValue::new("level", level_text(record.level())),
                KeyValue::new("target", record.target().to_owned()),
            ];
            if let Some(file) = record.file_static() {
                attributes.push(KeyValue::new(semconv::code::FILE_PATH, file));
            }
            if let Some(line) = record.line() {
                attributes.push(KeyValue::new(semconv::code::LINE_NUMBER, i64::from(line)));
            }
            let event = Event {
                name: message.into(),
                time_unix_nano: clock::ticks(),
                attributes,
                dropped_attributes_count: 0,
            };
            inbox::post_to_current(event, None);
        }
        match self.ids.then(crate::current_ids).flatten() {
            Some((trace_id, span_id)) => self.inner.log(
                &log::Record::builder()
                    .args(format_args!(
                        "{} trace_id={trace_id} span_id={span_id}",
                        record.args()
                    ))
                    .metadata(record.metadata().clone())
                    .module_path(record.module_path())
                    .file(record.file())
                    .line(record.line())
                    .build(),
            ),
            None => self.inner.log(record),
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}
