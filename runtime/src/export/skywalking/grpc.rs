//! The OAP's gRPC services (`TraceSegmentReportService/collect`, a client stream of segments;
//! `ManagementService`), called with bytes `segment.rs` wrote: a codec that passes them through,
//! on a tokio runtime of the exporter's own thread.

use std::sync::mpsc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use super::Call;
use crate::export::retry::Attempt;
use crate::export::tls::connect::tonic_channel;
use crate::export::tls::{TlsSettings, tls_failure};
use crate::export::{ExportError, ExportErrorKind};

const COLLECT: &str = "/skywalking.v3.TraceSegmentReportService/collect";
const PROPERTIES: &str = "/skywalking.v3.ManagementService/reportInstanceProperties";
const KEEP_ALIVE: &str = "/skywalking.v3.ManagementService/keepAlive";

/// Messages already encoded; answers (`Commands`) read and dropped.
#[derive(Debug, Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = ();
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, tonic::Status> {
        let n = src.remaining();
        src.advance(n);
        Ok(Some(()))
    }
}

/// One call for the worker.
pub(super) struct Job {
    pub(super) call: Call,
    pub(super) timeout: Duration,
    pub(super) reply: mpsc::Sender<Attempt>,
}

/// Where and how the worker connects.
#[derive(Debug, Clone)]
pub(super) struct Dial {
    /// `http://host:port` or `https://host:port`.
    pub(super) uri: String,
    pub(super) token: Option<super::Token>,
    pub(super) tls: TlsSettings,
}

fn grpc_kind(code: Code) -> ExportErrorKind {
    ExportErrorKind::GrpcStatus(code as i32)
}

/// The worker: one current-thread runtime, one lazily connected channel, calls in order.
pub(super) fn run(dial: Dial, jobs: mpsc::Receiver<Job>) {
    let _suppressed = crate::context::suppress_current_thread();
    let endpoint = dial.uri.as_str();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            for job in jobs {
                let _ = job.reply.send(Attempt::Fail(ExportError::new(
                    ExportErrorKind::Other,
                    format!("the SkyWalking exporter could not start its runtime: {e}"),
                )));
            }
            return;
        }
    };
    let https = endpoint
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    let channel = tonic_channel(endpoint, https, &dial.tls).map(|(e, tls)| {
        let _guard = rt.enter();
        match tls {
            Some(tls) => e.connect_with_connector_lazy(tls),
            None => e.connect_lazy(),
        }
    });
    let token = dial
        .token
        .as_ref()
        .and_then(|t| tonic::metadata::MetadataValue::try_from(t.0.as_str()).ok());
    for job in jobs {
        let channel = match &channel {
            Ok(c) => c.clone(),
            Err((why, kind)) => {
                let _ = job.reply.send(Attempt::Fail(ExportError::new(
                    *kind,
                    format!("SkyWalking gRPC to {endpoint}: {why}"),
                )));
                continue;
            }
        };
        let mut grpc = tonic::client::Grpc::new(channel);
        let timeout = job.timeout;
        let token = token.clone();
        let (path, what) = match &job.call {
            Call::Segments { .. } => (COLLECT, "segments"),
            Call::Properties(_) => (PROPERTIES, "instance properties"),
            Call::Ping(_) => (KEEP_ALIVE, "keep-alive"),
        };
        let call = job.call;
        let result = rt.block_on(async move {
            tokio::time::timeout(timeout, async move {
                grpc.ready().await.map_err(|e| {
                    tonic::Status::unavailable(format!("the channel is not ready: {e}"))
                })?;
                let path = http::uri::PathAndQuery::from_static(path);
                let with_token = |mut r: tonic::metadata::MetadataMap| {
                    if let Some(t) = &token {
                        r.insert("authentication", t.clone());
                    }
                    r
                };
                match call {
                    Call::Segments { body, ends } => {
                        let mut start = 0;
                        let messages: Vec<Bytes> = ends
                            .iter()
                            .map(|&end| {
                                let m = body.slice(start..end);
                                start = end;
                                m
                            })
                            .collect();
                        let mut request = tonic::Request::new(tokio_stream::iter(messages));
                        *request.metadata_mut() =
                            with_token(std::mem::take(request.metadata_mut()));
                        request.set_timeout(timeout);
                        grpc.client_streaming(request, path, Raw).await.map(drop)
                    }
                    Call::Properties(body) | Call::Ping(body) => {
                        let mut request = tonic::Request::new(Bytes::from(body));
                        *request.metadata_mut() =
                            with_token(std::mem::take(request.metadata_mut()));
                        request.set_timeout(timeout);
                        grpc.unary(request, path, Raw).await.map(drop)
                    }
                }
            })
            .await
        });
        let tls_failed = match &result {
            Ok(Err(status)) => tls_failure(status),
            _ => None,
        };
        let attempt = match (result, tls_failed) {
            (Ok(Ok(())), _) => Attempt::Delivered,
            (Ok(Err(_)), Some(why)) => Attempt::Fail(ExportError::new(
                ExportErrorKind::Tls,
                format!("SkyWalking {what} to {endpoint}: {why}; not retried"),
            )),
            (Ok(Err(status)), None) if grpc_kind(status.code()).is_transient() => Attempt::Retry {
                after: None,
                why: format!("SkyWalking {what} to {endpoint}: {status}"),
                kind: grpc_kind(status.code()),
            },
            (Ok(Err(status)), None) => {
                let hint = match status.code() {
                    Code::Unauthenticated | Code::PermissionDenied => {
                        " (check the token: SW_AGENT_AUTHENTICATION)"
                    }
                    Code::Unimplemented => " (is this an OAP's gRPC port, 11800?)",
                    _ => "",
                };
                Attempt::Fail(ExportError::new(
                    grpc_kind(status.code()),
                    format!(
                        "SkyWalking {what} to {endpoint} refused (not retried){hint}: {status}"
                    ),
                ))
            }
            (Err(_), _) => Attempt::Retry {
                after: None,
                why: format!("SkyWalking {what} to {endpoint}: no answer in time"),
                kind: ExportErrorKind::Timeout,
            },
        };
        let _ = job.reply.send(attempt);
    }
}
