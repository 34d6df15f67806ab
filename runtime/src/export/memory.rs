//! An exporter that keeps spans in memory, for tests and for inspecting traces in-process.

use std::sync::{Arc, Mutex, PoisonError};

use super::{ExportError, Exporter, Resource};
use crate::span::{SpanBatch, SpanRecord};

/// Keeps every exported span. Clones share the same storage, so keep one clone to read what
/// the pipeline exported.
///
/// ```
/// let memory = traceweave::InMemoryExporter::new();
/// let tracer = traceweave::builder().exporter(memory.clone()).build();
/// tracer.in_scope(|| drop(traceweave::span("work").start()));
/// tracer.force_flush().unwrap();
/// assert_eq!(memory.spans()[0].name, "work");
/// ```
#[derive(Debug, Clone, Default)]
pub struct InMemoryExporter {
    spans: Arc<Mutex<Vec<SpanRecord>>>,
}

impl InMemoryExporter {
    /// An empty store.
    ///
    /// ```
    /// let memory = traceweave::InMemoryExporter::new();
    /// let tracer = traceweave::builder().ignore_env().exporter(memory.clone()).build();
    /// # drop(tracer);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the spans exported so far.
    ///
    /// ```
    /// let memory = traceweave::InMemoryExporter::new();
    /// let tracer = traceweave::builder().ignore_env().exporter(memory.clone()).build();
    /// tracer.in_scope(|| traceweave::span("work").start().end());
    /// tracer.force_flush()?;
    /// assert_eq!(memory.spans()[0].name, "work");
    /// assert_eq!(memory.spans().len(), 1, "still there");
    /// # Ok::<(), traceweave::FlushError>(())
    /// ```
    pub fn spans(&self) -> Vec<SpanRecord> {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Removes and returns the spans exported so far.
    ///
    /// ```
    /// let memory = traceweave::InMemoryExporter::new();
    /// let tracer = traceweave::builder().ignore_env().exporter(memory.clone()).build();
    /// tracer.in_scope(|| traceweave::span("work").start().end());
    /// tracer.force_flush()?;
    /// assert_eq!(memory.take().len(), 1);
    /// assert!(memory.spans().is_empty(), "taken");
    /// # Ok::<(), traceweave::FlushError>(())
    /// ```
    pub fn take(&self) -> Vec<SpanRecord> {
        std::mem::take(&mut *self.spans.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Exporter for InMemoryExporter {
    /// In a forked child, the child's copy of the same store.
    fn after_fork(&self) -> Option<Box<dyn Exporter>> {
        Some(Box::new(self.clone()))
    }

    fn export(&mut self, batch: SpanBatch<'_>, _: &Resource) -> Result<(), ExportError> {
        let records = batch.to_records();
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(records);
        Ok(())
    }
}
