//! The OpenTelemetry SDK's exporters, driven by traceweave: every `opentelemetry_sdk`
//! `SpanExporter` (stdout, OTLP, vendor exporters) works as a traceweave [`Exporter`].
//!
//! The SDK's exporters are async; this adapter runs them on a private single-thread runtime on
//! the collector thread, never on the application's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::opentelemetry as otel;
use ::opentelemetry_sdk as sdk;
use sdk::trace::SpanExporter;

use crate::export::{ExportError, ExportErrorKind, Exporter};
use crate::span::Resource;
use crate::span::{
    Array, KeyValue, SpanBatch, SpanKind, SpanRecord, SpanView, StatusRef, Value, ValueRef,
};

use super::ids;

/// Wraps an `opentelemetry_sdk` span exporter.
///
/// ```
/// use traceweave::integrations::opentelemetry::SdkExporter;
/// let sdk_exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
/// let tracer = traceweave::builder().exporter(SdkExporter::new(sdk_exporter.clone())).build();
/// tracer.in_scope(|| drop(traceweave::span("work").start()));
/// tracer.force_flush().unwrap();
/// assert_eq!(sdk_exporter.get_finished_spans().unwrap()[0].name, "work");
/// ```
#[derive(Debug)]
pub struct SdkExporter<E> {
    inner: E,
    runtime: Option<tokio::runtime::Runtime>,
    resource: Option<Resource>,
}

impl<E: SpanExporter + 'static> SdkExporter<E> {
    /// Adapts `exporter`.
    pub fn new(exporter: E) -> Self {
        SdkExporter {
            inner: exporter,
            runtime: None,
            resource: None,
        }
    }

    fn runtime(&mut self) -> Result<&tokio::runtime::Runtime, ExportError> {
        if self.runtime.is_none() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| {
                    ExportError::with_source(ExportErrorKind::Other, "could not start a runtime", e)
                })?;
            self.runtime = Some(rt);
        }
        Ok(self.runtime.as_ref().expect("set above"))
    }
}

fn otel_kind(kind: SpanKind) -> otel::trace::SpanKind {
    match kind {
        SpanKind::Internal => otel::trace::SpanKind::Internal,
        SpanKind::Server => otel::trace::SpanKind::Server,
        SpanKind::Client => otel::trace::SpanKind::Client,
        SpanKind::Producer => otel::trace::SpanKind::Producer,
        SpanKind::Consumer => otel::trace::SpanKind::Consumer,
    }
}

/// Our attribute value as an OpenTelemetry one.
fn otel_value(v: &Value) -> otel::Value {
    match v {
        Value::Bool(b) => otel::Value::Bool(*b),
        Value::I64(i) => otel::Value::I64(*i),
        Value::F64(f) => otel::Value::F64(*f),
        Value::Str(s) => otel::Value::String(s.to_string().into()),
        Value::Array(a) => otel::Value::Array(match a {
            Array::Bool(v) => otel::Array::Bool(v.clone()),
            Array::I64(v) => otel::Array::I64(v.clone()),
            Array::F64(v) => otel::Array::F64(v.clone()),
            Array::Str(v) => otel::Array::String(v.iter().map(|s| s.to_string().into()).collect()),
        }),
    }
}

fn value_ref(v: ValueRef<'_>) -> otel::Value {
    match v {
        ValueRef::Bool(b) => otel::Value::Bool(b),
        ValueRef::I64(i) => otel::Value::I64(i),
        ValueRef::F64(f) => otel::Value::F64(f),
        ValueRef::Str(s) => otel::Value::String(s.to_owned().into()),
        ValueRef::Array(a) => otel_value(&crate::span::Value::Array(a.clone())),
    }
}

fn attributes(kvs: &[KeyValue]) -> Vec<otel::KeyValue> {
    kvs.iter()
        .map(|kv| otel::KeyValue::new(kv.key.to_string(), otel_value(&kv.value)))
        .collect()
}

fn time(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

fn context(
    trace_id: crate::TraceId,
    span_id: crate::SpanId,
    flags: u8,
    remote: bool,
    state: &str,
) -> otel::trace::SpanContext {
    ids(
        trace_id,
        span_id,
        flags,
        remote,
        state.parse().unwrap_or_default(),
    )
}

/// One finished span as the SDK's `SpanData`.
pub fn span_data(s: &SpanRecord) -> sdk::trace::SpanData {
    span_data_of(s.into())
}

/// One finished span, read in place, as the SDK's `SpanData`.
pub fn span_data_of(s: SpanView<'_>) -> sdk::trace::SpanData {
    let mut events = sdk::trace::SpanEvents::default();
    events.events = s
        .events()
        .iter()
        .map(|e| {
            otel::trace::Event::new(
                e.name.clone(),
                time(e.time_unix_nano),
                attributes(&e.attributes),
                e.dropped_attributes_count,
            )
        })
        .collect();
    events.dropped_count = s.dropped_events_count();
    let mut links = sdk::trace::SpanLinks::default();
    links.links = s
        .links()
        .iter()
        .map(|l| {
            otel::trace::Link::new(
                context(
                    l.trace_id,
                    l.span_id,
                    l.trace_flags.to_u8(),
                    l.is_remote,
                    "",
                ),
                attributes(&l.attributes),
                l.dropped_attributes_count,
            )
        })
        .collect();
    links.dropped_count = s.dropped_links_count();
    sdk::trace::SpanData {
        span_context: context(
            s.trace_id(),
            s.span_id(),
            s.trace_flags().to_u8(),
            false,
            &s.trace_state().header(),
        ),
        parent_span_id: if s.parent_span_id().is_valid() {
            otel::trace::SpanId::from_bytes(s.parent_span_id().to_bytes())
        } else {
            otel::trace::SpanId::INVALID
        },
        parent_span_is_remote: s.parent_is_remote(),
        span_kind: otel_kind(s.kind()),
        name: s.name_cow(),
        start_time: time(s.start_time_unix_nano()),
        end_time: time(s.end_time_unix_nano()),
        attributes: s
            .attributes()
            .map(|(k, v)| otel::KeyValue::new(k.to_owned(), value_ref(v)))
            .collect(),
        dropped_attributes_count: s.dropped_attributes_count(),
        events,
        links,
        status: match s.status() {
            StatusRef::Unset => otel::trace::Status::Unset,
            StatusRef::Ok => otel::trace::Status::Ok,
            StatusRef::Error(message) => otel::trace::Status::error(message.to_owned()),
        },
        instrumentation_scope: otel::InstrumentationScope::builder("traceweave")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build(),
    }
}

fn sdk_error(e: sdk::error::OTelSdkError) -> ExportError {
    let kind = match e {
        sdk::error::OTelSdkError::Timeout(_) => ExportErrorKind::Timeout,
        _ => ExportErrorKind::Other,
    };
    ExportError::new(kind, format!("the OpenTelemetry exporter failed: {e}"))
}

impl<E: SpanExporter + 'static> Exporter for SdkExporter<E> {
    /// Builds the SDK's `SpanData` straight from the collector's buffer.
    fn export(&mut self, spans: SpanBatch<'_>, resource: &Resource) -> Result<(), ExportError> {
        if self.resource.as_ref() != Some(resource) {
            let r = sdk::Resource::builder_empty()
                .with_attributes(attributes(resource.attributes()))
                .build();
            self.inner.set_resource(&r);
            self.resource = Some(resource.clone());
        }
        let batch: Vec<_> = spans.iter().map(span_data_of).collect();
        self.runtime()?;
        let rt = self.runtime.as_ref().expect("started above");
        rt.block_on(self.inner.export(batch)).map_err(sdk_error)
    }

    fn force_flush(&mut self) -> Result<(), ExportError> {
        self.inner.force_flush().map_err(sdk_error)
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        self.inner.shutdown().map_err(sdk_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SpanContext, SpanId, Status, TraceFlags, TraceId};

    #[test]
    fn every_field_reaches_the_sdk_exporter() {
        let memory = sdk::trace::InMemorySpanExporter::default();
        let tracer = crate::builder()
            .ignore_env()
            .service_name("sdk-adapter")
            .exporter(SdkExporter::new(memory.clone()))
            .build();
        tracer.in_scope(|| {
            let remote = crate::Context::new().with_span_context(SpanContext::new(
                TraceId::from_u128(0xabc),
                SpanId::from_u64(0xdef),
                TraceFlags::SAMPLED,
                true,
            ));
            let mut s = crate::span("consume")
                .kind(SpanKind::Consumer)
                .parent(&remote)
                .attribute("n", 3)
                .link(
                    SpanContext::new(
                        TraceId::from_u128(1),
                        SpanId::from_u64(2),
                        TraceFlags::SAMPLED,
                        true,
                    ),
                    vec![],
                )
                .start();
            s.add_event("retry", vec![KeyValue::new("attempt", 2)]);
            s.set_status(Status::error("poison"));
        });
        // The SDK's in-memory exporter forgets everything on shutdown: read after a flush.
        assert!(tracer.force_flush().is_ok());
        let spans = memory.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!(s.name, "consume");
        assert_eq!(s.span_kind, otel::trace::SpanKind::Consumer);
        assert_eq!(
            s.span_context.trace_id(),
            otel::trace::TraceId::from_hex("abc").unwrap()
        );
        assert_eq!(
            s.parent_span_id,
            otel::trace::SpanId::from_hex("def").unwrap()
        );
        assert!(s.parent_span_is_remote);
        assert!(s.span_context.is_sampled());
        assert_eq!(s.attributes, vec![otel::KeyValue::new("n", 3i64)]);
        assert_eq!(s.events.events[0].name, "retry");
        assert_eq!(
            s.links.links[0].span_context.span_id(),
            otel::trace::SpanId::from_hex("2").unwrap()
        );
        assert_eq!(s.status, otel::trace::Status::error("poison"));
        assert!(s.end_time >= s.start_time);
        assert_eq!(s.instrumentation_scope.name(), "traceweave");
    }
}
