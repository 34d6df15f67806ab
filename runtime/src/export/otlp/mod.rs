//! The OTLP exporter: http/protobuf (the default) and http/json, optionally gzipped, with the
//! spec's endpoint rules and delivery policy. The request bodies come from `export::encode`.

#[cfg(feature = "otlp-grpc")]
mod grpc;

#[cfg(feature = "otlp-grpc")]
pub use grpc::OtlpGrpcExporter;

use std::time::Duration;

use super::compress::{Compressor, OtlpCompression};
use super::encode::{ProtobufWriter, json};
use super::http;
use super::retry::deliver;
use super::tls::TlsSettings;
use super::{ExportError, ExportErrorKind, Exporter, Resource};
use crate::span::{SpanBatch, SpanRecord};

/// How OTLP is carried.
///
/// ```
/// use traceweave::export::{OtlpExporter, OtlpProtocol};
/// // What OTEL_EXPORTER_OTLP_PROTOCOL=http/json selects.
/// let exporter = OtlpExporter::new("http://collector:4318").protocol(OtlpProtocol::HttpJson);
/// # drop(exporter);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// Protobuf over HTTP (`http/protobuf`): the default.
    #[default]
    HttpProtobuf,
    /// JSON over HTTP (`http/json`): hex ids, integer enums, 64-bit integers as strings.
    HttpJson,
}

/// Sends spans to an OTLP receiver (an OpenTelemetry collector, Jaeger, Tempo, rotel...).
///
/// ```
/// use std::time::Duration;
/// use traceweave::export::{OtlpExporter, OtlpProtocol};
/// let exporter = OtlpExporter::new("http://127.0.0.1:4318")
///     .protocol(OtlpProtocol::HttpJson)
///     .gzip(true)
///     .header("x-tenant", "acme")
///     .timeout(Duration::from_secs(5));
/// assert_eq!(exporter.url(), "http://127.0.0.1:4318/v1/traces");
/// ```
pub struct OtlpExporter {
    url: String,
    protocol: OtlpProtocol,
    headers: Vec<(String, String)>,
    compression: OtlpCompression,
    timeout: Duration,
    tls: TlsSettings,
    agent: ureq::Agent,
    protobuf: ProtobufWriter,
    json: Vec<u8>,
    /// The compressed body and the compressor, kept across batches.
    compressor: Compressor,
}

impl std::fmt::Debug for OtlpExporter {
    // Header values are often credentials: names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpExporter")
            .field("url", &self.url)
            .field("protocol", &self.protocol)
            .field("headers", &super::Hidden(&self.headers))
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl OtlpExporter {
    /// Exports to `endpoint` + `/v1/traces` (the `OTEL_EXPORTER_OTLP_ENDPOINT` rule).
    ///
    /// ```
    /// use traceweave::export::OtlpExporter;
    /// // A collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT gives it:
    /// let exporter = OtlpExporter::new("http://otel-collector:4318/");
    /// assert_eq!(exporter.url(), "http://otel-collector:4318/v1/traces");
    /// ```
    pub fn new(endpoint: &str) -> Self {
        Self::with_traces_url(&traces_url(endpoint))
    }

    /// Exports to exactly this URL (the `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` rule).
    ///
    /// ```
    /// use traceweave::export::OtlpExporter;
    /// // A full URL, as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT gives it (a proxy's own path):
    /// let exporter = OtlpExporter::with_traces_url("https://gateway.example/otlp/traces");
    /// assert_eq!(exporter.url(), "https://gateway.example/otlp/traces");
    /// ```
    pub fn with_traces_url(url: &str) -> Self {
        OtlpExporter {
            url: url.to_owned(),
            protocol: OtlpProtocol::default(),
            headers: Vec::new(),
            compression: OtlpCompression::None,
            timeout: Duration::from_secs(10),
            tls: TlsSettings::default(),
            agent: http::agent(&TlsSettings::default()),
            protobuf: ProtobufWriter::default(),
            json: Vec::new(),
            compressor: Compressor::default(),
        }
    }

    /// The protocol.
    ///
    /// ```
    /// use traceweave::export::{OtlpExporter, OtlpProtocol};
    /// use traceweave::{Resource, SpanBatch};
    /// let spans = traceweave::testing::capture(|| traceweave::span("work").start().end());
    /// let mut exporter = OtlpExporter::new("http://unused:4318").protocol(OtlpProtocol::HttpJson);
    /// let body = exporter.encode_batch(SpanBatch::from_records(&spans.0), &Resource::default());
    /// assert!(body.starts_with(br#"{"resourceSpans":"#));
    /// ```
    pub fn protocol(mut self, p: OtlpProtocol) -> Self {
        self.protocol = p;
        self
    }

    /// Compresses request bodies with gzip (`true`) or not at all (`false`): a shorthand for
    /// [`compression`](Self::compression).
    ///
    /// ```
    /// use traceweave::export::OtlpExporter;
    /// // What OTEL_EXPORTER_OTLP_COMPRESSION=gzip selects: a fifth of the bytes on the wire.
    /// let exporter = OtlpExporter::new("http://collector:4318").gzip(true);
    /// # drop(exporter);
    /// ```
    pub fn gzip(self, on: bool) -> Self {
        self.compression(if on {
            OtlpCompression::Gzip
        } else {
            OtlpCompression::None
        })
    }

    /// How request bodies are compressed (`OTEL_EXPORTER_OTLP_COMPRESSION`): none (the
    /// default), gzip, or zstd with the `zstd` feature.
    ///
    /// ```
    /// use traceweave::export::{OtlpCompression, OtlpExporter};
    /// let exporter = OtlpExporter::new("http://collector:4318").compression(OtlpCompression::Gzip);
    /// # drop(exporter);
    /// ```
    pub fn compression(mut self, how: OtlpCompression) -> Self {
        self.compression = how;
        self
    }

    /// Adds a request header (authentication, tenant).
    ///
    /// ```
    /// use traceweave::export::OtlpExporter;
    /// // A hosted backend's API key (never printed in traceweave's messages).
    /// let exporter = OtlpExporter::new("https://api.honeycomb.io").header("x-honeycomb-team", "KEY");
    /// # drop(exporter);
    /// ```
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((key.into(), value.into()));
        self
    }

    /// How long one export may take, retries included; then its spans count as dropped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use traceweave::export::OtlpExporter;
    /// let exporter = OtlpExporter::new("http://collector:4318").timeout(Duration::from_secs(3));
    /// # drop(exporter);
    /// ```
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Trusts only the certificate authorities in `pem` (one or more PEM certificates, e.g.
    /// the contents of `OTEL_EXPORTER_OTLP_CERTIFICATE`'s file) instead of the webpki roots.
    /// PEM that holds no certificate makes every `https` export fail with a clear error.
    ///
    /// ```
    /// use traceweave::export::OtlpExporter;
    /// # let dir = std::env::temp_dir();
    /// # let path = dir.join("traceweave-doc-ca.pem");
    /// # std::fs::write(&path, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").unwrap();
    /// // A collector with a private CA (or a self-signed certificate: pass that certificate).
    /// let pem = std::fs::read(&path)?;
    /// let exporter = OtlpExporter::new("https://collector.internal:4318").ca_certificate(pem);
    /// # drop(exporter); let _ = std::fs::remove_file(path);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ca_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.set_ca(pem.into());
        self.agent = http::agent(&self.tls);
        self
    }

    /// Presents this client certificate chain and private key (PEM) for mutual TLS.
    ///
    /// ```
    /// use traceweave::export::OtlpExporter;
    /// # let (cert_pem, key_pem) = (Vec::<u8>::new(), Vec::<u8>::new());
    /// // Mutual TLS: the certificate and key the collector asks for (PEM).
    /// let exporter = OtlpExporter::new("https://collector:4318").client_certificate(cert_pem, key_pem);
    /// # drop(exporter);
    /// ```
    pub fn client_certificate(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.set_client(cert_pem.into(), key_pem.into());
        self.agent = http::agent(&self.tls);
        self
    }

    /// Replaces the TLS settings (the environment's files, read by `init`).
    pub(crate) fn tls(mut self, tls: TlsSettings) -> Self {
        self.tls = tls;
        self.agent = http::agent(&self.tls);
        self
    }

    /// The URL requests go to.
    ///
    /// ```
    /// use traceweave::export::OtlpExporter;
    /// assert_eq!(OtlpExporter::new("http://collector:4318").url(), "http://collector:4318/v1/traces");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The request body for a batch, as it would be sent (before compression). Reuses its
    /// buffers from batch to batch.
    ///
    /// ```
    /// use traceweave::export::OtlpExporter;
    /// use traceweave::{KeyValue, Resource};
    /// let spans = traceweave::testing::capture(|| traceweave::span("work").start().end());
    /// let resource = Resource::new([KeyValue::new("service.name", "checkout")]);
    /// let mut exporter = OtlpExporter::new("http://unused:4318");
    /// // An ExportTraceServiceRequest in protobuf: field 1, length-delimited.
    /// assert_eq!(exporter.encode(&spans.0, &resource)[0], 0x0a);
    /// ```
    pub fn encode(&mut self, spans: &[SpanRecord], resource: &Resource) -> &[u8] {
        self.encode_batch(SpanBatch::from_records(spans), resource)
    }

    /// [`encode`](Self::encode) for spans read in place.
    ///
    /// ```
    /// use traceweave::export::OtlpExporter;
    /// use traceweave::{Resource, SpanBatch};
    ///
    /// let spans = traceweave::testing::capture(|| traceweave::span("work").start().end());
    /// let mut exporter = OtlpExporter::new("http://unused:4318");
    /// // The bytes a POST would carry (an ExportTraceServiceRequest in protobuf).
    /// let body = exporter.encode_batch(SpanBatch::from_records(&spans.0), &Resource::default());
    /// assert!(!body.is_empty());
    /// ```
    pub fn encode_batch(&mut self, spans: SpanBatch<'_>, resource: &Resource) -> &[u8] {
        encode(
            self.protocol,
            &mut self.protobuf,
            &mut self.json,
            spans,
            resource,
        )
    }
}

/// The body for `protocol`, written into the kept buffer it uses (borrowing only those, so the
/// exporter can send it while reading its other fields).
fn encode<'a>(
    protocol: OtlpProtocol,
    protobuf: &'a mut ProtobufWriter,
    json_buf: &'a mut Vec<u8>,
    spans: SpanBatch<'_>,
    resource: &Resource,
) -> &'a [u8] {
    match protocol {
        OtlpProtocol::HttpProtobuf => protobuf.request(spans, resource),
        OtlpProtocol::HttpJson => {
            json_buf.clear();
            json::request(json_buf, spans, resource);
            json_buf
        }
    }
}

/// `endpoint` with `/v1/traces` appended (exactly one slash between).
pub(crate) fn traces_url(endpoint: &str) -> String {
    format!("{}/v1/traces", endpoint.trim_end_matches('/'))
}

impl Exporter for OtlpExporter {
    fn after_fork(&self) -> Option<Box<dyn Exporter>> {
        Some(Box::new(OtlpExporter {
            url: self.url.clone(),
            protocol: self.protocol,
            headers: self.headers.clone(),
            compression: self.compression,
            timeout: self.timeout,
            tls: self.tls.clone(),
            agent: http::agent(&self.tls),
            protobuf: ProtobufWriter::default(),
            json: Vec::new(),
            compressor: Compressor::default(),
        }))
    }

    fn export(&mut self, spans: SpanBatch<'_>, resource: &Resource) -> Result<(), ExportError> {
        if spans.is_empty() {
            return Ok(());
        }
        if let Some(problem) = self.tls.problem()
            && self
                .url
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        {
            return Err(ExportError::new(
                ExportErrorKind::Tls,
                format!(
                    "POST {}: {problem}; the TLS settings cannot work, nothing is sent",
                    self.url
                ),
            ));
        }
        // Encoded into the kept buffer and, compressed, into another kept one: sent from where
        // it was written, no copy.
        let encoded = encode(
            self.protocol,
            &mut self.protobuf,
            &mut self.json,
            spans,
            resource,
        );
        let (body, content_encoding) = self.compressor.compress(self.compression, encoded);
        let content_type = match self.protocol {
            OtlpProtocol::HttpProtobuf => "application/x-protobuf",
            OtlpProtocol::HttpJson => "application/json",
        };
        deliver(self.timeout, |remaining| {
            http::post(
                &self.agent,
                &self.url,
                &self.headers,
                content_type,
                content_encoding,
                body,
                remaining,
                http::Hints::OTLP,
            )
        })
    }
}
