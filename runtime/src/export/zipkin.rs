//! Zipkin v2 JSON (`POST /api/v2/spans`), mapped per the Zipkin API and OpenTelemetry's
//! Zipkin mapping.

use std::time::Duration;

use serde_json::{Map, Value as Json, json};

use super::http;
use super::retry::deliver;
use super::{ExportError, Exporter, Resource};
use crate::span::{SpanKind, SpanRecord, Status, Value};

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
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// The JSON array for a batch.
    pub fn encode(spans: &[SpanRecord], resource: &Resource) -> Json {
        Json::Array(
            spans
                .iter()
                .map(|s| span(s, resource.service_name()))
                .collect(),
        )
    }
}

fn tag_text(v: &Value) -> String {
    match v {
        // Arrays as JSON arrays, per OpenTelemetry's mapping; everything else as text.
        Value::Array(a) => match a {
            crate::span::Array::Bool(v) => json!(v).to_string(),
            crate::span::Array::I64(v) => json!(v).to_string(),
            crate::span::Array::F64(v) => json!(v).to_string(),
            crate::span::Array::Str(v) => json!(v).to_string(),
        },
        other => other.to_string(),
    }
}

fn span(s: &SpanRecord, service: &str) -> Json {
    let mut o = Map::new();
    o.insert("traceId".into(), json!(s.trace_id.to_string()));
    o.insert("id".into(), json!(s.span_id.to_string()));
    if s.parent_span_id.is_valid() {
        o.insert("parentId".into(), json!(s.parent_span_id.to_string()));
    }
    let kind = match s.kind {
        SpanKind::Server => Some("SERVER"),
        SpanKind::Client => Some("CLIENT"),
        SpanKind::Producer => Some("PRODUCER"),
        SpanKind::Consumer => Some("CONSUMER"),
        SpanKind::Internal => None,
    };
    if let Some(k) = kind {
        o.insert("kind".into(), json!(k));
    }
    o.insert("name".into(), json!(s.name));
    o.insert("timestamp".into(), json!(s.start_time_unix_nano / 1_000));
    o.insert(
        "duration".into(),
        json!((s.duration_nanos() / 1_000).max(1)),
    );
    o.insert("localEndpoint".into(), json!({ "serviceName": service }));
    let mut tags = Map::new();
    for kv in &s.attributes {
        tags.insert(kv.key.to_string(), json!(tag_text(&kv.value)));
    }
    match &s.status {
        Status::Unset => {}
        Status::Ok => {
            tags.insert("otel.status_code".into(), json!("OK"));
        }
        Status::Error { message } => {
            tags.insert("otel.status_code".into(), json!("ERROR"));
            let text = if message.is_empty() { "true" } else { message };
            tags.insert("error".into(), json!(text));
        }
    }
    if !tags.is_empty() {
        o.insert("tags".into(), Json::Object(tags));
    }
    if !s.events.is_empty() {
        let annotations: Vec<Json> = s
            .events
            .iter()
            .map(|e| {
                let value = if e.attributes.is_empty() {
                    e.name.to_string()
                } else {
                    let attrs: Map<String, Json> = e
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.to_string(), json!(tag_text(&kv.value))))
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

    fn export(&mut self, spans: &[SpanRecord], resource: &Resource) -> Result<(), ExportError> {
        if spans.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_vec(&Self::encode(spans, resource))
            .map_err(|e| ExportError::with_source("could not encode Zipkin JSON", e))?;
        deliver(self.timeout, |remaining| {
            http::post(
                &self.agent,
                &self.url,
                &[],
                "application/json",
                false,
                &body,
                remaining,
            )
        })
    }
}
