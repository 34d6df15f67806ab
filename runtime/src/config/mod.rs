//! Setting traceweave up: `init()` from the OpenTelemetry environment variables, or a builder.

use std::time::Duration;

mod builder;
mod env;
mod resource;

use crate::tracer::{global_tracer, shutdown_global};

pub use crate::error::{FlushError, InitError};
pub use builder::{Builder, builder};

pub(crate) use crate::diag::warn;

/// Sets up the global tracer from the environment and returns a guard that flushes and shuts
/// it down when dropped. Keep the guard alive for the life of `main`.
///
/// If a tracer is installed already, says so on stderr and returns a guard that does nothing.
///
/// ```no_run
/// // First thing in `main`:
/// let _tracing = traceweave::init();
/// // ... #[traced] functions now export to the console (or OTEL_TRACES_EXPORTER).
/// ```
pub fn init() -> TracingGuard {
    match try_init() {
        Ok(guard) => guard,
        Err(e) => {
            warn(format_args!("{e}"));
            TracingGuard { active: false }
        }
    }
}

/// [`init`], returning why it could not install the tracer instead of saying so on stderr.
///
/// ```
/// let first = traceweave::try_init().expect("nothing installed yet");
/// assert!(matches!(traceweave::try_init(), Err(traceweave::InitError::AlreadyInitialised)));
/// drop(first); // flushes and shuts down
/// ```
pub fn try_init() -> Result<TracingGuard, InitError> {
    builder().install()
}

/// Flushes and shuts down the global tracer, waiting at most `timeout`: `Ok` when every queued
/// span was handed to the exporters in time (and when no tracer is installed).
///
/// ```
/// use std::time::Duration;
/// let _tracing = traceweave::init();
/// // ... the application; then, with a deadline of its own rather than the guard's:
/// if let Err(e) = traceweave::shutdown(Duration::from_secs(5)) {
///     eprintln!("some spans were not delivered: {e}");
/// }
/// ```
pub fn shutdown(timeout: Duration) -> Result<(), FlushError> {
    shutdown_global(timeout)
}

/// The global tracer's span counts (zero before `init`).
///
/// ```
/// let _tracing = traceweave::init();
/// let s = traceweave::stats();
/// // Every span is accounted for: exported, dropped (and why), or still queued.
/// assert_eq!(s.created, s.exported + s.dropped() + s.queued);
/// ```
pub fn stats() -> crate::tracer::SpanStats {
    global_tracer().map(|t| t.stats()).unwrap_or_default()
}

/// Exports what the global tracer has queued now, waiting at most the export timeout (`Ok`
/// when no tracer is installed).
///
/// ```
/// let _tracing = traceweave::init();
/// traceweave::span("before a risky step").start().end();
/// traceweave::force_flush()?; // exported now, not at the next batch
/// # Ok::<(), traceweave::FlushError>(())
/// ```
pub fn force_flush() -> Result<(), FlushError> {
    global_tracer().map_or(Ok(()), |t| t.force_flush())
}

/// Shuts the global tracer down when dropped, flushing queued spans (with the export timeout
/// as the deadline).
#[must_use = "dropping the guard shuts tracing down at once"]
#[derive(Debug)]
pub struct TracingGuard {
    active: bool,
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if self.active {
            let timeout = global_tracer()
                .map(|t| t.export_timeout())
                .unwrap_or(Duration::from_secs(30));
            // At exit, spans that did not make it are worth one line.
            if let Err(e @ FlushError::Timeout(_)) = shutdown_global(timeout) {
                warn(format_args!("shutdown: {e} (see traceweave::stats())"));
            }
        }
    }
}
