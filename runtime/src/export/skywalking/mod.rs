//! Apache SkyWalking native reporting: segments to the OAP over gRPC (`collect`, port 11800) or
//! its HTTP receiver (`POST /v3/segments`, port 12800), the instance's properties and keep-alive
//! beside them. The mapping of spans to segments is `segment.rs`'s.

mod grpc;
pub(crate) mod segment;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;

use super::retry::{Attempt, deliver};
use super::tls::TlsSettings;
use super::{ExportError, ExportErrorKind, Exporter};
use crate::semconv;
use crate::span::{Resource, SpanBatch};
use segment::Names;

static IN_USE: AtomicBool = AtomicBool::new(false);

/// Whether a [`SkyWalkingExporter`] was made in this process: `init` then adds `sw8` to the
/// default propagators, so that peers' references resolve to the segments reported here.
pub(crate) fn in_use() -> bool {
    IN_USE.load(Ordering::Relaxed)
}

/// How segments reach the OAP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SkyWalkingProtocol {
    /// gRPC, `TraceSegmentReportService/collect` (the agents' default; OAP port 11800).
    #[default]
    Grpc,
    /// The OAP's HTTP receiver: `POST /v3/segments` with JSON (port 12800).
    Http,
}

/// The OAP's token: sent, never shown (`Debug` hides it).
#[derive(Clone)]
pub(crate) struct Token(pub(crate) String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

/// One call to the OAP, already encoded for the protocol.
pub(crate) enum Call {
    /// Segments: for gRPC one protobuf message per segment (`ends` marks where each ends), for
    /// HTTP one JSON array.
    Segments {
        body: Bytes,
        ends: Vec<usize>,
    },
    Properties(Vec<u8>),
    Ping(Vec<u8>),
}

impl Call {
    fn clone_call(&self) -> Call {
        match self {
            Call::Segments { body, ends } => Call::Segments {
                body: body.clone(),
                ends: ends.clone(),
            },
            Call::Properties(b) => Call::Properties(b.clone()),
            Call::Ping(b) => Call::Ping(b.clone()),
        }
    }
}

/// Reports spans to Apache SkyWalking's OAP as native segments, so that a Rust service joins
/// the traces, topology and endpoint metrics of services run with SkyWalking agents (Java,
/// go2sky, Python, Apache's `skywalking` crate).
///
/// Every span is a segment of its own (its id is the span id in hex, its one span has id 0): a
/// local parent is a `CrossThread` reference, a caller that sent `sw8` a `CrossProcess` one with
/// the caller's segment, span, service, instance, endpoint and the address it called. Kinds give
/// the span type (server/consumer: Entry, client/producer: Exit, internal: Local), the
/// semantic-convention attributes the layer, component and peer, events the logs, an error
/// status `isError`. The service and instance are the tracer's (`service.name`,
/// `service.instance.id`: `SW_AGENT_NAME` and `SW_AGENT_INSTANCE_NAME` set them), as in the
/// `sw8` this process sends; making this exporter also puts `sw8` among `init`'s default
/// propagators.
///
/// From the tracer's start on, a thread reports the instance's properties (language `rust`, host
/// name, process id, OS) and then keeps it alive every 30 s, so the OAP lists it.
///
/// ```no_run
/// # fn main() -> Result<(), traceweave::InitError> {
/// use traceweave::export::SkyWalkingExporter;
/// let _tracing = traceweave::builder()
///     .service_name("gateway")
///     .exporter(SkyWalkingExporter::new("oap:11800").authentication("token"))
///     .install()?;
/// # Ok(())
/// # }
/// ```
///
/// By the environment alone: `SW_AGENT_COLLECTOR_BACKEND_SERVICES=oap:11800` (with
/// `SW_AGENT_NAME`, `SW_AGENT_INSTANCE_NAME`, `SW_AGENT_AUTHENTICATION`) and
/// `traceweave::init()`.
#[derive(Debug)]
pub struct SkyWalkingExporter {
    settings: Settings,
    transport: Option<Arc<Transport>>,
    worker: Option<JoinHandle<()>>,
    heartbeat: Option<Heartbeat>,
    names: Option<(String, String)>,
    buf: Vec<u8>,
    ends: Vec<usize>,
    scratch: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Settings {
    address: String,
    protocol: SkyWalkingProtocol,
    token: Option<Token>,
    tls: TlsSettings,
    force_tls: bool,
    timeout: Duration,
    heartbeat: Duration,
}

/// The connection, shared by the exporter (segments) and the heartbeat thread.
#[derive(Debug)]
enum Transport {
    Grpc {
        jobs: mpsc::Sender<grpc::Job>,
    },
    Http {
        agent: ureq::Agent,
        base: String,
        token: Option<Token>,
    },
}

impl Transport {
    /// One attempt of `call`, taking at most `timeout`; a TLS failure's hint names the
    /// SkyWalking variables.
    fn attempt(&self, call: &Call, timeout: Duration) -> Attempt {
        match self.attempt_once(call, timeout) {
            Attempt::Fail(e) if e.kind() == ExportErrorKind::Tls => Attempt::Fail(
                ExportError::new(ExportErrorKind::Tls, in_skywalking_terms(&e.to_string())),
            ),
            other => other,
        }
    }

    fn attempt_once(&self, call: &Call, timeout: Duration) -> Attempt {
        match self {
            Transport::Grpc { jobs } => {
                let (reply, answer) = mpsc::channel();
                let job = grpc::Job {
                    call: call.clone_call(),
                    timeout,
                    reply,
                };
                if jobs.send(job).is_err() {
                    return Attempt::Fail(ExportError::new(
                        ExportErrorKind::Other,
                        "the SkyWalking exporter's thread is gone",
                    ));
                }
                answer
                    .recv_timeout(timeout + Duration::from_millis(100))
                    .unwrap_or(Attempt::Retry {
                        after: None,
                        why: "no answer in time".into(),
                        kind: ExportErrorKind::Timeout,
                    })
            }
            Transport::Http { agent, base, token } => {
                let (path, body): (&str, &[u8]) = match call {
                    Call::Segments { body, .. } => ("/v3/segments", body),
                    Call::Properties(b) => ("/v3/management/reportProperties", b),
                    Call::Ping(b) => ("/v3/management/keepAlive", b),
                };
                let headers: Vec<(String, String)> = token
                    .iter()
                    .map(|t| ("Authentication".to_owned(), t.0.clone()))
                    .collect();
                super::http::post(
                    agent,
                    &format!("{base}{path}"),
                    &headers,
                    "application/json",
                    None,
                    body,
                    timeout,
                    super::http::Hints::SKYWALKING,
                )
            }
        }
    }
}

/// The TLS hints (shared with the OTLP exporters) with the SkyWalking agents' variables in
/// place of OTLP's.
fn in_skywalking_terms(message: &str) -> String {
    message
        .replace(
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY",
            "SW_AGENT_SSL_CERT_CHAIN_PATH and SW_AGENT_SSL_KEY_PATH",
        )
        .replace(
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "SW_AGENT_SSL_TRUSTED_CA_PATH",
        )
        .replace(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
        )
}

/// The thread that reports the instance and keeps it alive.
#[derive(Debug)]
struct Heartbeat {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl SkyWalkingExporter {
    /// Reports to the OAP at `address`: `host:port` (plaintext unless [`tls`](Self::tls) says
    /// otherwise, as the agents' `SW_AGENT_FORCE_TLS` does), or `http://host:port` /
    /// `https://host:port`. Over gRPC by default (the OAP's port 11800); see
    /// [`protocol`](Self::protocol) for its HTTP receiver (port 12800).
    pub fn new(address: &str) -> Self {
        IN_USE.store(true, Ordering::Relaxed);
        crate::context::enable_sw8_endpoints();
        SkyWalkingExporter {
            settings: Settings {
                address: address.trim().to_owned(),
                protocol: SkyWalkingProtocol::Grpc,
                token: None,
                tls: TlsSettings::default(),
                force_tls: false,
                timeout: Duration::from_secs(10),
                heartbeat: Duration::from_secs(30),
            },
            transport: None,
            worker: None,
            heartbeat: None,
            names: None,
            buf: Vec::new(),
            ends: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// gRPC (the default) or the OAP's HTTP receiver.
    pub fn protocol(mut self, protocol: SkyWalkingProtocol) -> Self {
        self.settings.protocol = protocol;
        self
    }

    /// The OAP's token (hosted OAPs require one): sent as the `Authentication` metadata of
    /// every call (`SW_AGENT_AUTHENTICATION`).
    pub fn authentication(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.settings.token = (!token.is_empty()).then_some(Token(token));
        self
    }

    /// TLS for an address given without a scheme (`SW_AGENT_FORCE_TLS`); an explicit
    /// `http://` or `https://` wins.
    pub fn tls(mut self, on: bool) -> Self {
        self.settings.force_tls = on;
        self
    }

    /// Trusts only the certificate authorities in `pem` instead of the webpki roots (an OAP
    /// behind a private CA or a self-signed certificate).
    pub fn ca_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.settings.tls.set_ca(pem.into());
        self
    }

    /// Presents this client certificate chain and private key (PEM) for mutual TLS.
    pub fn client_certificate(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.settings
            .tls
            .set_client(cert_pem.into(), key_pem.into());
        self
    }

    /// Replaces the TLS settings (the environment's files, read by `init`).
    pub(crate) fn tls_settings(mut self, tls: TlsSettings) -> Self {
        self.settings.tls = tls;
        self
    }

    /// How long one export may take, retries included (10 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.settings.timeout = t;
        self
    }

    /// How often the instance is kept alive (30 s, the agents' default; at least 1 s).
    pub fn heartbeat_period(mut self, period: Duration) -> Self {
        self.settings.heartbeat = period.max(Duration::from_secs(1));
        self
    }

    /// The bytes an export of `spans` sends, written into the exporter's kept buffer: for gRPC
    /// the `SegmentObject`s back to back (each one message of the `collect` stream), for HTTP the
    /// JSON array `POST /v3/segments` takes. The service and instance are the resource's. Starts
    /// nothing and sends nothing.
    ///
    /// ```
    /// use traceweave::export::SkyWalkingExporter;
    /// use traceweave::{KeyValue, Resource, SpanBatch};
    ///
    /// let spans = traceweave::testing::capture(|| traceweave::span("work").start().end());
    /// let resource = Resource::new([KeyValue::new("service.name", "checkout")]);
    /// let mut exporter = SkyWalkingExporter::new("127.0.0.1:11800");
    /// // A SegmentObject: field 1 (the trace id), length-delimited, 32 hex digits.
    /// let body = exporter.encode_batch(SpanBatch::from_records(&spans.0), &resource);
    /// assert_eq!(&body[..2], &[0x0a, 32]);
    /// ```
    pub fn encode_batch(&mut self, spans: SpanBatch<'_>, resource: &Resource) -> &[u8] {
        let (service, instance) = names_of(resource);
        let names = Names {
            service: &service,
            instance: &instance,
        };
        match self.settings.protocol {
            SkyWalkingProtocol::Grpc => segment::protobuf(
                spans.iter(),
                names,
                &mut self.buf,
                &mut self.ends,
                &mut self.scratch,
            ),
            SkyWalkingProtocol::Http => {
                segment::json(spans.iter(), names, &mut self.buf, &mut self.scratch)
            }
        }
        &self.buf
    }

    /// The base URI: the address with the scheme TLS settles.
    fn base(&self) -> String {
        let a = self.settings.address.trim_end_matches('/');
        if a.contains("://") {
            a.to_owned()
        } else if self.settings.force_tls {
            format!("https://{a}")
        } else {
            format!("http://{a}")
        }
    }

    /// Starts the transport and the heartbeat, once, with the tracer's names.
    fn connect(&mut self, resource: &Resource) -> Result<Arc<Transport>, ExportError> {
        if let Some(t) = &self.transport {
            return Ok(t.clone());
        }
        let (service, instance) = names_of(resource);
        let transport = match self.settings.protocol {
            SkyWalkingProtocol::Grpc => {
                let (tx, rx) = mpsc::channel();
                let dial = grpc::Dial {
                    uri: self.base(),
                    token: self.settings.token.clone(),
                    tls: self.settings.tls.clone(),
                };
                let worker = std::thread::Builder::new()
                    .name("traceweave-skywalking".into())
                    .spawn(move || grpc::run(dial, rx))
                    .map_err(|e| {
                        ExportError::with_source(
                            ExportErrorKind::Other,
                            "could not start the SkyWalking exporter",
                            e,
                        )
                    })?;
                self.worker = Some(worker);
                Transport::Grpc { jobs: tx }
            }
            SkyWalkingProtocol::Http => Transport::Http {
                agent: super::http::agent(&self.settings.tls),
                base: self.base(),
                token: self.settings.token.clone(),
            },
        };
        let transport = Arc::new(transport);
        self.heartbeat = start_heartbeat(
            transport.clone(),
            self.settings.protocol,
            (service.clone(), instance.clone()),
            properties(resource),
            self.settings.heartbeat,
            self.settings.timeout,
        );
        self.names = Some((service, instance));
        self.transport = Some(transport.clone());
        Ok(transport)
    }
}

/// The service and instance segments are reported under: the tracer's, as in its `sw8`.
fn names_of(resource: &Resource) -> (String, String) {
    let text = |k: &str| {
        resource
            .get(k)
            .map(|v| v.to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "-".into())
    };
    (
        text(semconv::attr::SERVICE_NAME),
        text(semconv::attr::SERVICE_INSTANCE_ID),
    )
}

/// What the OAP shows of the instance: the agents' keys.
fn properties(resource: &Resource) -> Vec<(String, String)> {
    let text = |k: &str| resource.get(k).map(|v| v.to_string());
    let mut p = vec![("language".to_owned(), "rust".to_owned())];
    if let Some(os) = text(semconv::attr::OS_TYPE) {
        p.push(("OS Name".into(), os));
    }
    if let Some(host) = text(semconv::attr::HOST_NAME) {
        p.push(("hostname".into(), host));
    }
    p.push(("Process No.".into(), std::process::id().to_string()));
    p.push(("traceweave".into(), env!("CARGO_PKG_VERSION").to_owned()));
    p
}

fn start_heartbeat(
    transport: Arc<Transport>,
    protocol: SkyWalkingProtocol,
    names: (String, String),
    properties: Vec<(String, String)>,
    period: Duration,
    timeout: Duration,
) -> Option<Heartbeat> {
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("traceweave-skywalking-heartbeat".into())
        .spawn(move || {
            let _suppressed = crate::context::suppress_current_thread();
            let n = Names {
                service: &names.0,
                instance: &names.1,
            };
            let (props, ping) = match protocol {
                SkyWalkingProtocol::Grpc => (
                    Call::Properties(segment::properties_protobuf(n, &properties)),
                    Call::Ping(segment::ping_protobuf(n)),
                ),
                SkyWalkingProtocol::Http => (
                    Call::Properties(segment::properties_json(n, &properties)),
                    Call::Ping(segment::ping_json(n)),
                ),
            };
            // Properties until the OAP has them (again after any failure: it may have
            // restarted), keep-alives after; a failure is said once, and its end once.
            let mut reported = false;
            let mut failing = false;
            loop {
                let call = if reported { &ping } else { &props };
                let attempt = transport.attempt(call, timeout);
                // Stopped during the call (the exporter shut down): nothing to say.
                if !matches!(stopped.try_recv(), Err(mpsc::TryRecvError::Empty)) {
                    return;
                }
                let failure = match attempt {
                    Attempt::Delivered => None,
                    Attempt::Retry { why, .. } => Some(why),
                    Attempt::Fail(e) => Some(e.to_string()),
                };
                match failure {
                    None => {
                        if failing {
                            crate::diag::warn(format_args!(
                                "SkyWalking: the OAP answers the instance's keep-alive again"
                            ));
                        }
                        failing = false;
                        reported = true;
                    }
                    Some(why) => {
                        if !failing {
                            crate::diag::warn(format_args!(
                                "SkyWalking: instance report failed ({why}); trying again in {} s",
                                period.as_secs()
                            ));
                        }
                        failing = true;
                        reported = false;
                    }
                }
                match stopped.recv_timeout(period) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
            }
        })
        .ok()?;
    Some(Heartbeat { stop, thread })
}

impl Exporter for SkyWalkingExporter {
    /// The transport and the heartbeat start with the tracer: the instance is listed before
    /// its first span.
    fn start(&mut self, resource: &Resource) {
        if let Err(e) = self.connect(resource) {
            crate::diag::warn(format_args!("SkyWalking: {e}"));
        }
    }

    fn export(&mut self, spans: SpanBatch<'_>, resource: &Resource) -> Result<(), ExportError> {
        if spans.is_empty() {
            return Ok(());
        }
        let transport = self.connect(resource)?;
        let (service, instance) = self.names.as_ref().expect("set by start");
        let names = Names { service, instance };
        let call = match self.settings.protocol {
            SkyWalkingProtocol::Grpc => {
                segment::protobuf(
                    spans.iter(),
                    names,
                    &mut self.buf,
                    &mut self.ends,
                    &mut self.scratch,
                );
                Call::Segments {
                    body: Bytes::copy_from_slice(&self.buf),
                    ends: self.ends.clone(),
                }
            }
            SkyWalkingProtocol::Http => {
                segment::json(spans.iter(), names, &mut self.buf, &mut self.scratch);
                Call::Segments {
                    body: Bytes::copy_from_slice(&self.buf),
                    ends: Vec::new(),
                }
            }
        };
        deliver(self.settings.timeout, |remaining| {
            transport.attempt(&call, remaining)
        })
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        // Every export waited for its answer: nothing is left to flush. The heartbeat stops at
        // once unless it is in a call (at most the timeout); neither thread is waited for then,
        // so a dead OAP never holds up the application's exit.
        if let Some(h) = self.heartbeat.take() {
            drop(h.stop);
            std::thread::sleep(Duration::from_millis(1));
            if h.thread.is_finished() {
                let _ = h.thread.join();
            }
        }
        self.transport = None;
        if let Some(w) = self.worker.take()
            && w.is_finished()
        {
            let _ = w.join();
        }
        Ok(())
    }

    fn after_fork(&self) -> Option<Box<dyn Exporter>> {
        // The threads and connection stayed in the parent; the copy starts its own.
        let mut copy = SkyWalkingExporter::new(&self.settings.address);
        copy.settings = self.settings.clone();
        Some(Box::new(copy))
    }
}

impl Drop for SkyWalkingExporter {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
