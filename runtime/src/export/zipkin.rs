//! Zipkin v2 JSON (`POST /api/v2/spans`), mapped per the Zipkin API and OpenTelemetry's
//! Zipkin mapping.

use std::time::Duration;

use serde_json::{Map, Value as Json, json};

use super::http;
use super::retry::deliver;
use super::{ExportError, ExportErrorKind, Exporter, Resource};
use crate::span::{Array, SpanBatch, SpanKind, SpanRecord, SpanView, StatusRef, ValueRef};

/// Sends spans to a Zipkin collector (default `http://localhost:9411/api/v2/spans`).
///
/// ```
/// let exporter = traceweave::export::ZipkinExporter::new("http://127.0.0.1:9411/api/v2/spans");
/// # drop(exporter);
/// ```
#[derive(Debug)]
pub struct ZipkinExporter {
    url: String,
    timeout: Duration,
    agent: ureq::Agent,
}

impl ZipkinExporter {
    /// Exports to this URL (the full `/api/v2/spans` path).
    pub fn new(url: &str) -> Self {
        ZipkinExporter {
            url: url.to_owned(),
            timeout: Duration::from_secs(10),
            agent: http::agent(&Default::default()),
        }
    }

    /// How long one export may take, retries included.
    ///
    /// ```
    /// use std::time::Duration;
    /// use traceweave::export::ZipkinExporter;
    /// let exporter = ZipkinExporter::new("http://zipkin:9411/api/v2/spans").timeout(Duration::from_secs(3));
    /// let tracer = traceweave::builder().exporter(exporter).build();
    /// # drop(tracer);
    /// ```
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// The JSON array for a batch of owned records.
    pub fn encode(spans: &[SpanRecord], resource: &Resource) -> Json {
        Self::encode_batch(SpanBatch::from_records(spans), resource)
    }

    /// The JSON array for a batch, read in place (what the collector hands over).
    ///
    /// ```
    /// use traceweave::export::ZipkinExporter;
    /// use traceweave::{Resource, SpanBatch};
    ///
    /// let spans = traceweave::testing::capture(|| traceweave::span("work").start().end());
    /// let json = ZipkinExporter::encode_batch(SpanBatch::from_records(&spans.0), &Resource::default());
    /// assert_eq!(json[0]["name"], "work");
    /// ```
    pub fn encode_batch(batch: SpanBatch<'_>, resource: &Resource) -> Json {
        let service = resource.service_name();
        Json::Array(batch.iter().map(|s| span(s, service)).collect())
    }

    fn post(&self, body: &[u8]) -> Result<(), ExportError> {
        deliver(self.timeout, |remaining| {
            http::post(
                &self.agent,
                &self.url,
                &[],
                "application/json",
                None,
                body,
                remaining,
                http::Hints::ZIPKIN,
            )
        })
    }
}

fn tag_text(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Str(s) => s.to_owned(),
        ValueRef::Bool(b) => b.to_string(),
        ValueRef::I64(i) => i.to_string(),
        ValueRef::F64(f) => f.to_string(),
        // Arrays as JSON arrays, per OpenTelemetry's mapping.
        ValueRef::Array(a) => match a {
            Array::Bool(v) => json!(v).to_string(),
            Array::I64(v) => json!(v).to_string(),
            Array::F64(v) => json!(v).to_string(),
            Array::Str(v) => json!(v).to_string(),
        },
    }
}

fn span(s: SpanView<'_>, service: &str) -> Json {
    let mut o = Map::new();
    o.insert("traceId".into(), json!(s.trace_id().to_string()));
    o.insert("id".into(), json!(s.span_id().to_string()));
    if s.parent_span_id().is_valid() {
        o.insert("parentId".into(), json!(s.parent_span_id().to_string()));
    }
    let kind = match s.kind() {
        SpanKind::Server => Some("SERVER"),
        SpanKind::Client => Some("CLIENT"),
        SpanKind::Producer => Some("PRODUCER"),
        SpanKind::Consumer => Some("CONSUMER"),
        SpanKind::Internal => None,
    };
    if let Some(k) = kind {
        o.insert("kind".into(), json!(k));
    }
    o.insert("name".into(), json!(s.name()));
    o.insert("timestamp".into(), json!(s.start_time_unix_nano() / 1_000));
    o.insert(
        "duration".into(),
        json!((s.duration_nanos() / 1_000).max(1)),
    );
    o.insert("localEndpoint".into(), json!({ "serviceName": service }));
    let mut tags = Map::new();
    for (key, value) in s.attributes() {
        tags.insert(key.to_owned(), json!(tag_text(value)));
    }
    match s.status() {
        StatusRef::Unset => {}
        StatusRef::Ok => {
            tags.insert("otel.status_code".into(), json!("OK"));
        }
        StatusRef::Error(message) => {
            tags.insert("otel.status_code".into(), json!("ERROR"));
            let text = if message.is_empty() { "true" } else { message };
            tags.insert("error".into(), json!(text));
        }
    }
    if !tags.is_empty() {
        o.insert("tags".into(), Json::Object(tags));
    }
    let events = s.events();
    if !events.is_empty() {
        let annotations: Vec<Json> = events
            .iter()
            .map(|e| {
                let value = if e.attributes.is_empty() {
                    e.name.to_string()
                } else {
                    let attrs: Map<String, Json> = e
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.to_string(), json!(tag_text((&kv.value).into()))))
                        .collect();
                    format!("{}: {}", e.name, Json::Object(attrs))
                };
                json!({ "timestamp": e.time_unix_nano / 1_000, "value": value })
            })
            .collect();
        o.insert("annotations".into(), Json::Array(annotations));
    }
    Json::Object(o)
}

impl Exporter for ZipkinExporter {
    fn after_fork(&self) -> Option<Box<dyn Exporter>> {
        Some(Box::new(
            ZipkinExporter::new(&self.url).timeout(self.timeout),
        ))
    }

    /// Encodes straight from the collector's buffer: no owned records are built.
    fn export(&mut self, batch: SpanBatch<'_>, resource: &Resource) -> Result<(), ExportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_vec(&Self::encode_batch(batch, resource)).map_err(|e| {
            ExportError::with_source(ExportErrorKind::Encode, "could not encode Zipkin JSON", e)
        })?;
        self.post(&body)
    }
}
