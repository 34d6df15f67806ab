//! Exporters: where finished spans go. They run on the collector thread, one batch at a time.

mod console;
mod failures;
#[cfg(feature = "otlp")]
mod file;
#[cfg(feature = "otlp")]
mod http;
mod memory;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "otlp")]
mod retry;
#[cfg(feature = "otlp")]
pub(crate) mod tls;
#[cfg(feature = "otlp")]
mod zipkin;

use std::fmt;

use crate::span::{Resource, SpanBatch, SpanRecord};
use crate::tracer::Processor;
use std::time::Instant;

pub use console::ConsoleExporter;
pub(crate) use console::render_tree;
#[cfg(feature = "otlp")]
pub use file::FileExporter;
pub use memory::InMemoryExporter;
#[cfg(feature = "otlp-grpc")]
pub use otlp::OtlpGrpcExporter;
#[cfg(feature = "otlp")]
pub use otlp::{OtlpExporter, OtlpProtocol};
#[cfg(feature = "otlp")]
pub use zipkin::ZipkinExporter;

/// Receives batches of finished spans on the collector thread.
///
/// Calls are synchronous and never on an application thread; an exporter that needs an async
/// runtime owns one. Nothing an exporter does is traced.
///
/// The collector calls [`export_batch`](Exporter::export_batch), which hands over a borrowed
/// view of its buffer. Its default builds owned [`SpanRecord`]s and calls
/// [`export`](Exporter::export); an exporter that encodes spans as it reads them (OTLP does)
/// implements `export_batch` itself and skips that copy.
///
/// ```
/// use traceweave::{ExportError, Exporter, Resource, SpanRecord};
///
/// #[derive(Debug, Default)]
/// struct CountingExporter(usize);
///
/// impl Exporter for CountingExporter {
///     fn export(&mut self, spans: &[SpanRecord], _: &Resource) -> Result<(), ExportError> {
///         self.0 += spans.len();
///         Ok(())
///     }
/// }
/// ```
pub trait Exporter: Send + 'static {
    /// Delivers one batch of owned records. An error counts the batch as dropped.
    fn export(&mut self, spans: &[SpanRecord], resource: &Resource) -> Result<(), ExportError>;

    /// Delivers one batch read in place; what the collector calls. An error counts the batch
    /// as dropped.
    fn export_batch(
        &mut self,
        batch: SpanBatch<'_>,
        resource: &Resource,
    ) -> Result<(), ExportError> {
        self.export(&batch.to_records(), resource)
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
    fn export(&mut self, spans: &[SpanRecord], resource: &Resource) -> Result<(), ExportError> {
        (**self).export(spans, resource)
    }

    fn export_batch(
        &mut self,
        batch: SpanBatch<'_>,
        resource: &Resource,
    ) -> Result<(), ExportError> {
        (**self).export_batch(batch, resource)
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

/// Why an export failed.
#[derive(Debug)]
pub struct ExportError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    kind: Option<String>,
}

impl ExportError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        ExportError {
            message: message.into(),
            source: None,
            kind: None,
        }
    }

    /// The same error with a kind (`"HTTP 404"`, `"connection"`, `"TLS"`...): failures are
    /// reported on stderr once per kind, then at most once a minute while they last, so an
    /// exporter that gives kinds gets a new line when the trouble changes.
    #[must_use]
    pub fn with_kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// The kind given with [`ExportError::with_kind`].
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    /// An error caused by another error.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ExportError {
            message: message.into(),
            source: Some(Box::new(source)),
            kind: None,
        }
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
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
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call))
        .unwrap_or_else(|_| Err(ExportError::new("the exporter panicked")))
}

impl Processor for Exporters {
    fn export(&mut self, batch: SpanBatch<'_>) -> Result<(), String> {
        let mut outcome = Ok(());
        for (i, e) in self.exporters.iter_mut().enumerate() {
            let line = match guarded(|| e.export_batch(batch, &self.resource)) {
                Ok(()) => self.failures.delivered(i),
                Err(err) => {
                    let line = self.failures.failed(i, &err, batch.len(), Instant::now());
                    outcome = Err(err.to_string());
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
