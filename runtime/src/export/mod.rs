//! Exporters: where finished spans go. They run on the collector thread, one batch at a time.

#[cfg(feature = "otlp-http")]
mod compress;
mod console;
#[cfg(any(test, feature = "otlp-http", feature = "file"))]
mod encode;
mod failures;
#[cfg(feature = "file")]
mod file;
#[cfg(any(feature = "otlp-http", feature = "zipkin"))]
mod http;
mod memory;
#[cfg(feature = "otlp-http")]
mod otlp;
#[cfg(any(feature = "otlp-http", feature = "zipkin"))]
mod retry;
#[cfg(feature = "skywalking")]
pub(crate) mod skywalking;
#[cfg(any(feature = "otlp-http", feature = "zipkin"))]
pub(crate) mod tls;
#[cfg(feature = "zipkin")]
mod zipkin;

use crate::span::{Resource, SpanBatch};
use crate::tracer::Processor;
use std::time::Instant;

pub use crate::error::{ExportError, ExportErrorKind, ExportFailure};
#[cfg(feature = "otlp-http")]
pub use compress::OtlpCompression;
pub use console::ConsoleExporter;
pub(crate) use console::render_tree;
#[cfg(feature = "file")]
pub use file::FileExporter;
pub use memory::InMemoryExporter;
#[cfg(feature = "otlp-grpc")]
pub use otlp::OtlpGrpcExporter;
#[cfg(feature = "otlp-http")]
pub use otlp::{OtlpExporter, OtlpProtocol};
#[cfg(feature = "skywalking")]
pub use skywalking::{SkyWalkingExporter, SkyWalkingProtocol};
#[cfg(feature = "zipkin")]
pub use zipkin::ZipkinExporter;

/// Secrets in `Debug` output: request headers show their names only, a token not at all.
#[cfg(any(feature = "otlp-http", feature = "skywalking"))]
pub(crate) struct Hidden<'a>(pub(crate) &'a [(String, String)]);

#[cfg(any(feature = "otlp-http", feature = "skywalking"))]
impl std::fmt::Debug for Hidden<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, _)| (k, format_args!("<hidden>"))))
            .finish()
    }
}

/// Receives batches of finished spans on the collector thread.
///
/// Calls are synchronous and never on an application thread; an exporter that needs an async
/// runtime owns one. Nothing an exporter does is traced.
///
/// [`export`](Exporter::export) gets a borrowed view of the collector's buffer: an exporter
/// that encodes spans as it reads them (OTLP, Zipkin) reads the batch in place; one that wants
/// owned [`SpanRecord`](crate::SpanRecord)s calls [`SpanBatch::to_records`].
///
/// ```
/// use traceweave::{ExportError, Exporter, Resource, SpanBatch};
///
/// #[derive(Debug, Default)]
/// struct CountingExporter {
///     spans: usize,
///     errors: usize,
/// }
///
/// impl Exporter for CountingExporter {
///     fn export(&mut self, batch: SpanBatch<'_>, _: &Resource) -> Result<(), ExportError> {
///         self.spans += batch.len();
///         self.errors += batch.iter().filter(|s| s.status().is_error()).count();
///         Ok(())
///     }
/// }
/// ```
pub trait Exporter: Send + 'static {
    /// Delivers one batch, read in place. An error counts the batch as dropped; a
    /// [transient](ExportError::is_transient) one is worth retrying by exporters that retry.
    fn export(&mut self, batch: SpanBatch<'_>, resource: &Resource) -> Result<(), ExportError>;

    /// Called once on the collector thread when the tracer starts, before the first batch,
    /// with the tracer's resource: an exporter that announces itself (SkyWalking's reports its
    /// instance to the OAP) or starts its own threads does it here. It must not block; the
    /// default does nothing.
    fn start(&mut self, resource: &Resource) {
        let _ = resource;
    }

    /// Delivers anything the exporter buffers itself.
    fn force_flush(&mut self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Releases the exporter's resources; no export follows.
    fn shutdown(&mut self) -> Result<(), ExportError> {
        Ok(())
    }

    /// An exporter for a child process made by `fork()`: the same destination and settings,
    /// sharing nothing with this one that does not survive a fork (connections, threads,
    /// buffers). Called in the child, on a copy of this exporter that no thread is using.
    /// The default, `None`, means this exporter does not export the child's spans (if no
    /// exporter of a tracer can be copied, the child records nothing).
    fn after_fork(&self) -> Option<Box<dyn Exporter>> {
        None
    }
}

impl<E: Exporter + ?Sized> Exporter for Box<E> {
    fn export(&mut self, batch: SpanBatch<'_>, resource: &Resource) -> Result<(), ExportError> {
        (**self).export(batch, resource)
    }

    fn start(&mut self, resource: &Resource) {
        (**self).start(resource)
    }

    fn force_flush(&mut self) -> Result<(), ExportError> {
        (**self).force_flush()
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        (**self).shutdown()
    }

    fn after_fork(&self) -> Option<Box<dyn Exporter>> {
        (**self).after_fork()
    }
}

/// The exporters of one tracer, as the collector sees them: every batch goes to each, and
/// nothing an exporter does (an error, a panic) reaches the collector.
pub(crate) struct Exporters {
    exporters: Vec<Box<dyn Exporter>>,
    resource: Resource,
    failures: failures::FailureLog,
}

impl Exporters {
    pub(crate) fn new(exporters: Vec<Box<dyn Exporter>>, resource: Resource) -> Self {
        Exporters {
            exporters,
            resource,
            failures: failures::FailureLog::default(),
        }
    }
}

/// Runs one exporter call; a panic is an error like any other.
fn guarded(call: impl FnOnce() -> Result<(), ExportError>) -> Result<(), ExportError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).unwrap_or_else(|_| {
        Err(ExportError::new(
            ExportErrorKind::Panicked,
            "the exporter panicked",
        ))
    })
}

impl Processor for Exporters {
    fn start(&mut self) {
        for e in &mut self.exporters {
            let _ = guarded(|| {
                e.start(&self.resource);
                Ok(())
            });
        }
    }

    fn export(&mut self, batch: SpanBatch<'_>) -> Result<(), ExportError> {
        let mut outcome = Ok(());
        for (i, e) in self.exporters.iter_mut().enumerate() {
            let line = match guarded(|| e.export(batch, &self.resource)) {
                Ok(()) => self.failures.delivered(i),
                Err(err) => {
                    let line = self.failures.failed(i, &err, batch.len(), Instant::now());
                    outcome = Err(err);
                    line
                }
            };
            if let Some(line) = line {
                crate::diag::warn(format_args!("{line}"));
            }
        }
        outcome
    }

    fn force_flush(&mut self) {
        for e in &mut self.exporters {
            let _ = guarded(|| e.force_flush());
        }
    }

    fn shutdown(&mut self) {
        for e in &mut self.exporters {
            let _ = guarded(|| e.force_flush());
            let _ = guarded(|| e.shutdown());
        }
    }

    fn after_fork(&self) -> Option<Box<dyn Processor>> {
        let exporters: Vec<Box<dyn Exporter>> = (self.exporters.iter())
            .filter_map(|e| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.after_fork()))
                    .ok()
                    .flatten()
            })
            .collect();
        if exporters.is_empty() {
            return None;
        }
        Some(Box::new(Exporters::new(exporters, self.resource.clone())))
    }
}
