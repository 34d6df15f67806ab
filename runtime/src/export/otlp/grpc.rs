//! OTLP over gRPC (`TraceService/Export`). tonic needs an async runtime; this exporter owns one
//! on a thread of its own, so the application never needs one and never sees it.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::Code;

use crate::export::encode::official as encode;
use crate::export::retry::{Attempt, deliver};
use crate::export::tls::connect::tonic_channel;
use crate::export::tls::{TlsSettings, tls_failure};
use crate::export::{ExportError, ExportErrorKind, Exporter, Resource};
use crate::span::SpanBatch;

struct Job {
    request: ExportTraceServiceRequest,
    timeout: Duration,
    reply: mpsc::Sender<Attempt>,
}

/// Sends spans to an OTLP/gRPC receiver (default port 4317).
///
/// An `https://` endpoint is dialled over TLS (webpki roots, or the CA given to
/// [`ca_certificate`](Self::ca_certificate)); an `http://` endpoint in plaintext. An endpoint
/// without a scheme (`collector:4317`) uses TLS unless [`insecure`](Self::insecure) says not
/// to, as `OTEL_EXPORTER_OTLP_INSECURE` does. Nothing is ever sent in cleartext to an
/// endpoint that asked for TLS: if the handshake fails, the export fails.
///
/// ```no_run
/// let exporter = traceweave::export::OtlpGrpcExporter::new("http://127.0.0.1:4317").gzip(true);
/// # drop(exporter);
/// ```
#[derive(Debug)]
pub struct OtlpGrpcExporter {
    conn: Connection,
    timeout: Duration,
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<JoinHandle<()>>,
}

/// Where and how the worker connects.
#[derive(Clone)]
struct Connection {
    endpoint: String,
    headers: Vec<(String, String)>,
    gzip: bool,
    tls: TlsSettings,
    insecure: bool,
}

impl std::fmt::Debug for Connection {
    // Header values are often credentials: names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", &self.endpoint)
            .field("headers", &crate::export::Hidden(&self.headers))
            .field("gzip", &self.gzip)
            .field("tls", &self.tls)
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl Connection {
    /// The URI to dial: the endpoint as given, or with the scheme `insecure` picks when it has
    /// none.
    fn uri(&self) -> String {
        if self.endpoint.contains("://") {
            self.endpoint.clone()
        } else if self.insecure {
            format!("http://{}", self.endpoint)
        } else {
            format!("https://{}", self.endpoint)
        }
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

/// Whether a gRPC status is retryable: the OTLP rules `ExportErrorKind::is_transient` holds,
/// but RESOURCE_EXHAUSTED only when the server sent RetryInfo (read as "it sent details").
fn retryable(status: &tonic::Status) -> bool {
    match status.code() {
        Code::ResourceExhausted => !status.details().is_empty(),
        code => grpc_kind(code).is_transient(),
    }
}

impl OtlpGrpcExporter {
    /// Exports to `endpoint` (e.g. `http://collector:4317`), used as is.
    pub fn new(endpoint: &str) -> Self {
        OtlpGrpcExporter {
            conn: Connection {
                endpoint: endpoint.to_owned(),
                headers: Vec::new(),
                gzip: false,
                tls: TlsSettings::default(),
                insecure: false,
            },
            timeout: Duration::from_secs(10),
            jobs: None,
            worker: None,
        }
    }

    /// Trusts only the certificate authorities in `pem` (PEM certificates, e.g. the contents of
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE`'s file) instead of the webpki roots.
    pub fn ca_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.conn.tls.set_ca(pem.into());
        self
    }

    /// Presents this client certificate chain and private key (PEM) for mutual TLS.
    pub fn client_certificate(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.conn.tls.set_client(cert_pem.into(), key_pem.into());
        self
    }

    /// Replaces the TLS settings (the environment's files, read by `init`).
    pub(crate) fn tls(mut self, tls: TlsSettings) -> Self {
        self.conn.tls = tls;
        self
    }

    /// For an endpoint given without a scheme: plaintext when `true`, TLS (the default) when
    /// `false`. An explicit `http://` or `https://` wins.
    pub fn insecure(mut self, on: bool) -> Self {
        self.conn.insecure = on;
        self
    }

    /// How long one export may take, retries included.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Compresses requests with gzip.
    pub fn gzip(mut self, on: bool) -> Self {
        self.conn.gzip = on;
        self
    }

    /// Adds request metadata (authentication, tenant).
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.conn.headers.push((key.into(), value.into()));
        self
    }

    /// Starts the exporter's thread and runtime on first use.
    fn jobs(&mut self) -> Result<&mpsc::Sender<Job>, ExportError> {
        if self.jobs.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let conn = self.conn.clone();
            let worker = std::thread::Builder::new()
                .name("traceweave-otlp-grpc".into())
                .spawn(move || run(conn, rx))
                .map_err(|e| {
                    ExportError::with_source(
                        ExportErrorKind::Other,
                        "could not start the gRPC exporter",
                        e,
                    )
                })?;
            self.jobs = Some(tx);
            self.worker = Some(worker);
        }
        Ok(self.jobs.as_ref().expect("set above"))
    }
}

fn grpc_kind(code: Code) -> ExportErrorKind {
    ExportErrorKind::GrpcStatus(code as i32)
}

fn run(conn: Connection, jobs: mpsc::Receiver<Job>) {
    let Connection {
        headers, gzip, tls, ..
    } = &conn;
    let endpoint = conn.uri();
    // Nothing on this thread is traced either.
    let _suppressed = crate::context::suppress_current_thread();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            for job in jobs {
                let _ = job.reply.send(Attempt::Fail(ExportError::with_source(
                    ExportErrorKind::Other,
                    "the gRPC exporter could not start its runtime",
                    std::io::Error::other(e.to_string()),
                )));
            }
            return;
        }
    };
    let https = endpoint
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    let channel = tonic_channel(&endpoint, https, tls).map(|(e, tls)| {
        let _guard = rt.enter();
        match tls {
            Some(tls) => e.connect_with_connector_lazy(tls),
            None => e.connect_lazy(),
        }
    });
    for job in jobs {
        let channel = match &channel {
            Ok(c) => c.clone(),
            Err((why, kind)) => {
                let _ = job.reply.send(Attempt::Fail(ExportError::new(
                    *kind,
                    format!("gRPC export to {endpoint}: {why}"),
                )));
                continue;
            }
        };
        let mut client = TraceServiceClient::new(channel);
        if *gzip {
            client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        let mut request = tonic::Request::new(job.request);
        request.set_timeout(job.timeout);
        for (k, v) in headers {
            if let (Ok(k), Ok(v)) = (
                tonic::metadata::MetadataKey::from_bytes(k.as_bytes()),
                tonic::metadata::MetadataValue::try_from(v.as_str()),
            ) {
                request.metadata_mut().insert(k, v);
            }
        }
        let result =
            rt.block_on(async { tokio::time::timeout(job.timeout, client.export(request)).await });
        // A failed handshake arrives as UNAVAILABLE; it is permanent, not worth a retry.
        let tls_failed = match &result {
            Ok(Err(status)) => tls_failure(status),
            _ => None,
        };
        let attempt = match (result, tls_failed) {
            (Ok(Ok(_)), _) => Attempt::Delivered,
            (Ok(Err(_)), Some(why)) => Attempt::Fail(ExportError::new(
                ExportErrorKind::Tls,
                format!("gRPC export to {endpoint}: {why}; not retried"),
            )),
            (Ok(Err(status)), None) if retryable(&status) => Attempt::Retry {
                after: None,
                why: format!("gRPC export to {endpoint}: {status}"),
                kind: grpc_kind(status.code()),
            },
            (Ok(Err(status)), None) => Attempt::Fail(ExportError::new(
                grpc_kind(status.code()),
                format!("gRPC export to {endpoint} refused (not retried): {status}"),
            )),
            (Err(_), _) => Attempt::Retry {
                after: None,
                why: format!("gRPC export to {endpoint}: no answer in time"),
                kind: ExportErrorKind::Timeout,
            },
        };
        let _ = job.reply.send(attempt);
    }
}

impl Exporter for OtlpGrpcExporter {
    fn after_fork(&self) -> Option<Box<dyn Exporter>> {
        // The worker thread and its connection stayed in the parent; the copy starts its own.
        Some(Box::new(OtlpGrpcExporter {
            conn: self.conn.clone(),
            timeout: self.timeout,
            jobs: None,
            worker: None,
        }))
    }

    fn export(&mut self, spans: SpanBatch<'_>, resource: &Resource) -> Result<(), ExportError> {
        if spans.is_empty() {
            return Ok(());
        }
        let request = encode::request(spans, resource);
        let timeout = self.timeout;
        let jobs = self.jobs()?.clone();
        deliver(timeout, |remaining| {
            let (reply, answer) = mpsc::channel();
            let job = Job {
                request: request.clone(),
                timeout: remaining,
                reply,
            };
            if jobs.send(job).is_err() {
                return Attempt::Fail(ExportError::new(
                    ExportErrorKind::Other,
                    "the gRPC exporter's thread is gone",
                ));
            }
            answer
                .recv_timeout(remaining + Duration::from_millis(100))
                .unwrap_or(Attempt::Retry {
                    after: None,
                    why: "no answer in time".into(),
                    kind: ExportErrorKind::Timeout,
                })
        })
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        self.jobs = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        Ok(())
    }
}
