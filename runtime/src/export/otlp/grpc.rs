//! OTLP over gRPC (`TraceService/Export`). tonic needs an async runtime; this exporter owns one
//! on a thread of its own, so the application never needs one and never sees it.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::Code;

use super::encode;
use crate::export::retry::{Attempt, deliver};
use crate::export::{ExportError, Exporter, Resource};
use crate::span::{SpanBatch, SpanRecord};

struct Job {
    request: ExportTraceServiceRequest,
    timeout: Duration,
    reply: mpsc::Sender<Attempt>,
}

/// Sends spans to an OTLP/gRPC receiver (default port 4317).
///
/// ```no_run
/// let exporter = traceweave::export::OtlpGrpcExporter::new("http://127.0.0.1:4317").gzip(true);
/// # drop(exporter);
/// ```
#[derive(Debug)]
pub struct OtlpGrpcExporter {
    endpoint: String,
    timeout: Duration,
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    headers: Vec<(String, String)>,
    gzip: bool,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

/// Whether a gRPC status is retryable per the OTLP spec (RESOURCE_EXHAUSTED only when the
/// server sent RetryInfo, which we read as "it sent details").
fn retryable(status: &tonic::Status) -> bool {
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::Cancelled
        | Code::OutOfRange
        | Code::DataLoss => true,
        Code::ResourceExhausted => !status.details().is_empty(),
        _ => false,
    }
}

impl OtlpGrpcExporter {
    /// Exports to `endpoint` (e.g. `http://collector:4317`), used as is.
    pub fn new(endpoint: &str) -> Self {
        OtlpGrpcExporter {
            endpoint: endpoint.to_owned(),
            timeout: Duration::from_secs(10),
            jobs: None,
            worker: None,
            headers: Vec::new(),
            gzip: false,
        }
    }

    /// How long one export may take, retries included.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Compresses requests with gzip.
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Adds request metadata (authentication, tenant).
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((key.into(), value.into()));
        self
    }

    /// Starts the exporter's thread and runtime on first use.
    fn jobs(&mut self) -> Result<&mpsc::Sender<Job>, ExportError> {
        if self.jobs.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let endpoint = self.endpoint.clone();
            let headers = self.headers.clone();
            let gzip = self.gzip;
            let worker = std::thread::Builder::new()
                .name("traceweave-otlp-grpc".into())
                .spawn(move || run(endpoint, headers, gzip, rx))
                .map_err(|e| ExportError::with_source("could not start the gRPC exporter", e))?;
            self.jobs = Some(tx);
            self.worker = Some(worker);
        }
        Ok(self.jobs.as_ref().expect("set above"))
    }
}

fn grpc_kind(code: Code) -> &'static str {
    match code {
        Code::Unavailable => "gRPC UNAVAILABLE",
        Code::DeadlineExceeded => "gRPC DEADLINE_EXCEEDED",
        Code::Unauthenticated => "gRPC UNAUTHENTICATED",
        Code::PermissionDenied => "gRPC PERMISSION_DENIED",
        Code::Unimplemented => "gRPC UNIMPLEMENTED",
        Code::ResourceExhausted => "gRPC RESOURCE_EXHAUSTED",
        Code::InvalidArgument => "gRPC INVALID_ARGUMENT",
        _ => "gRPC error",
    }
}

fn run(endpoint: String, headers: Vec<(String, String)>, gzip: bool, jobs: mpsc::Receiver<Job>) {
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
                    "the gRPC exporter could not start its runtime",
                    std::io::Error::other(e.to_string()),
                )));
            }
            return;
        }
    };
    let channel = match tonic::transport::Endpoint::from_shared(endpoint.clone()) {
        Ok(e) => {
            let _guard = rt.enter();
            Some(e.connect_lazy())
        }
        Err(e) => {
            crate::config::warn(format_args!("invalid OTLP gRPC endpoint {endpoint:?}: {e}"));
            None
        }
    };
    for job in jobs {
        let Some(channel) = channel.clone() else {
            let _ = job.reply.send(Attempt::Fail(ExportError::new(format!(
                "invalid endpoint {endpoint:?}"
            ))));
            continue;
        };
        let mut client = TraceServiceClient::new(channel);
        if gzip {
            client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        let mut request = tonic::Request::new(job.request);
        request.set_timeout(job.timeout);
        for (k, v) in &headers {
            if let (Ok(k), Ok(v)) = (
                tonic::metadata::MetadataKey::from_bytes(k.as_bytes()),
                tonic::metadata::MetadataValue::try_from(v.as_str()),
            ) {
                request.metadata_mut().insert(k, v);
            }
        }
        let result =
            rt.block_on(async { tokio::time::timeout(job.timeout, client.export(request)).await });
        let attempt = match result {
            Ok(Ok(_)) => Attempt::Delivered,
            Ok(Err(status)) if retryable(&status) => Attempt::Retry {
                after: None,
                why: format!("gRPC export to {endpoint}: {status}"),
                kind: grpc_kind(status.code()),
            },
            Ok(Err(status)) => Attempt::Fail(
                ExportError::new(format!(
                    "gRPC export to {endpoint} refused (not retried): {status}"
                ))
                .with_kind(grpc_kind(status.code())),
            ),
            Err(_) => Attempt::Retry {
                after: None,
                why: format!("gRPC export to {endpoint}: no answer in time"),
                kind: "timeout",
            },
        };
        let _ = job.reply.send(attempt);
    }
}

impl Exporter for OtlpGrpcExporter {
    fn export(&mut self, spans: &[SpanRecord], resource: &Resource) -> Result<(), ExportError> {
        self.export_batch(SpanBatch::from_records(spans), resource)
    }

    fn after_fork(&self) -> Option<Box<dyn Exporter>> {
        // The worker thread and its connection stayed in the parent; the copy starts its own.
        Some(Box::new(OtlpGrpcExporter {
            endpoint: self.endpoint.clone(),
            timeout: self.timeout,
            jobs: None,
            worker: None,
            headers: self.headers.clone(),
            gzip: self.gzip,
        }))
    }

    fn export_batch(
        &mut self,
        spans: SpanBatch<'_>,
        resource: &Resource,
    ) -> Result<(), ExportError> {
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
                return Attempt::Fail(ExportError::new("the gRPC exporter's thread is gone"));
            }
            answer
                .recv_timeout(remaining + Duration::from_millis(100))
                .unwrap_or(Attempt::Retry {
                    after: None,
                    why: "no answer in time".into(),
                    kind: "timeout",
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
