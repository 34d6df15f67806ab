//! Exporters: where finished spans go. They run on the collector thread, one batch at a time.

mod console;
#[cfg(feature = "otlp")]
mod file;
#[cfg(feature = "otlp")]
mod http;
mod memory;
#[cfg(feature = "otlp")]
mod otlp;
mod pipeline;
#[cfg(feature = "otlp")]
mod retry;
mod ring;
#[cfg(feature = "otlp")]
mod zipkin;

use std::fmt;

use crate::span::{KeyValue, SpanRecord, Value};

pub use console::ConsoleExporter;
pub(crate) use console::render_tree;
#[cfg(feature = "otlp")]
pub use file::FileExporter;
pub use memory::InMemoryExporter;
#[cfg(feature = "otlp-grpc")]
pub use otlp::OtlpGrpcExporter;
#[cfg(feature = "otlp")]
pub use otlp::{OtlpExporter, OtlpProtocol};
#[doc(hidden)]
pub use pipeline::wait_until;
pub use pipeline::{BatchConfig, SpanStats, Tracer};
pub(crate) use pipeline::{
    GlobalState, Pipeline, global_state, global_tracer, install_global, shutdown_global,
    submit_pre_init, take_pre_init,
};
#[cfg(feature = "otlp")]
pub use zipkin::ZipkinExporter;

/// Receives batches of finished spans on the collector thread.
///
/// Calls are synchronous and never on an application thread; an exporter that needs an async
/// runtime owns one. Nothing an exporter does is traced.
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
    /// Delivers one batch. An error counts the batch as dropped.
    fn export(&mut self, spans: &[SpanRecord], resource: &Resource) -> Result<(), ExportError>;

    /// Delivers anything the exporter buffers itself.
    fn force_flush(&mut self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Releases the exporter's resources; no export follows.
    fn shutdown(&mut self) -> Result<(), ExportError> {
        Ok(())
    }
}

impl<E: Exporter + ?Sized> Exporter for Box<E> {
    fn export(&mut self, spans: &[SpanRecord], resource: &Resource) -> Result<(), ExportError> {
        (**self).export(spans, resource)
    }

    fn force_flush(&mut self) -> Result<(), ExportError> {
        (**self).force_flush()
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        (**self).shutdown()
    }
}

/// Why an export failed.
#[derive(Debug)]
pub struct ExportError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ExportError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        ExportError {
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by another error.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ExportError {
            message: message.into(),
            source: Some(Box::new(source)),
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

/// What produced the spans: service, instance, host and process facts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    attributes: Vec<KeyValue>,
}

impl Resource {
    /// A resource with exactly these attributes (later duplicates win).
    pub fn new(attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        let mut r = Resource::default();
        for kv in attributes {
            r.set(kv);
        }
        r
    }

    /// Sets one attribute, replacing an earlier value.
    pub fn set(&mut self, kv: KeyValue) {
        match self.attributes.iter_mut().find(|a| a.key == kv.key) {
            Some(slot) => *slot = kv,
            None => self.attributes.push(kv),
        }
    }

    /// The value of one attribute.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// `service.name`, or `unknown_service`.
    pub fn service_name(&self) -> &str {
        self.get("service.name")
            .and_then(Value::as_str)
            .unwrap_or("unknown_service")
    }

    /// All attributes.
    pub fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
}
