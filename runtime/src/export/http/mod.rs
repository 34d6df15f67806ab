//! One blocking HTTP POST for the network exporters (runs on the collector thread; no async
//! runtime involved), classified for the delivery policy; names resolved by `resolve.rs`.

mod resolve;

use std::time::Duration;

use super::retry::{Attempt, retry_after};
use super::tls::TlsSettings;
use super::{ExportError, ExportErrorKind};

/// A blocking client configured for exporters: statuses are values, not errors; TLS trusts the
/// webpki roots or the CA in `tls`.
pub(crate) fn agent(tls: &TlsSettings) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(concat!("traceweave/", env!("CARGO_PKG_VERSION")));
    #[cfg(feature = "otlp-tls")]
    {
        use ureq::unversioned::transport::{Connector, TcpConnector};
        // TLS by traceweave's own connector: ureq takes no certificate verifier from outside.
        let tls = super::tls::connect::UreqTls {
            config: tls.client_config(&[]),
        };
        let connector = ().chain(TcpConnector::default()).chain(tls);
        ureq::Agent::with_parts(
            config.build(),
            connector,
            resolve::CachingResolver::default(),
        )
    }
    #[cfg(not(feature = "otlp-tls"))]
    {
        use ureq::unversioned::transport::{Connector, TcpConnector};
        let _ = tls;
        let connector = ().chain(TcpConnector::default());
        ureq::Agent::with_parts(
            config.build(),
            connector,
            resolve::CachingResolver::default(),
        )
    }
}

/// What a refusal tells the user to check, per receiver.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hints {
    /// For 401 and 403.
    pub(crate) auth: &'static str,
    /// For 404.
    pub(crate) path: &'static str,
}

impl Hints {
    #[cfg(feature = "otlp-http")]
    pub(crate) const OTLP: Hints = Hints {
        auth: " (check the authorization headers)",
        path: " (check the endpoint's path: OTLP/HTTP traces go to /v1/traces)",
    };
    #[cfg(feature = "zipkin")]
    pub(crate) const ZIPKIN: Hints = Hints {
        auth: " (check the authorization headers)",
        path: " (check the endpoint's path: Zipkin takes spans at /api/v2/spans)",
    };
    #[cfg(feature = "skywalking")]
    pub(crate) const SKYWALKING: Hints = Hints {
        auth: " (check the token: SW_AGENT_AUTHENTICATION)",
        path: " (is this the OAP's HTTP port, 12800? segments go to /v3/segments)",
    };
}

/// POSTs `body` once, taking at most `timeout`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn post(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(String, String)],
    content_type: &str,
    content_encoding: Option<&str>,
    body: &[u8],
    timeout: Duration,
    hints: Hints,
) -> Attempt {
    let mut req = agent.post(url).header("content-type", content_type);
    if let Some(encoding) = content_encoding {
        req = req.header("content-encoding", encoding);
    }
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.config().timeout_global(Some(timeout)).build();
    match req.send(body) {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(retry_after);
            // Read the body so the connection can be reused.
            let text = resp
                .body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_to_string()
                .unwrap_or_default();
            match status {
                200..=299 => Attempt::Delivered,
                s if ExportErrorKind::HttpStatus(s).is_transient() => Attempt::Retry {
                    after,
                    why: format!("POST {url} answered {s}"),
                    kind: ExportErrorKind::HttpStatus(s),
                },
                s => {
                    let text: String = text.chars().take(200).collect();
                    let text = text.trim();
                    let hint = match s {
                        401 | 403 => hints.auth,
                        404 => hints.path,
                        413 => {
                            " (the batch is too large for the receiver: lower \
                                 OTEL_BSP_MAX_EXPORT_BATCH_SIZE)"
                        }
                        _ => "",
                    };
                    Attempt::Fail(ExportError::new(
                        ExportErrorKind::HttpStatus(s),
                        format!(
                            "POST {url} answered {s}{hint}; not retried{}{text}",
                            if text.is_empty() { "" } else { ": " }
                        ),
                    ))
                }
            }
        }
        Err(e) => classify(url, e),
    }
}

/// Connection-level trouble (refused, reset, timed out, a name that did not resolve) is worth
/// another try; a request that cannot be made as configured (a bad URL, TLS, an invalid header)
/// is not.
fn classify(url: &str, e: ureq::Error) -> Attempt {
    use ureq::Error as E;
    #[cfg(feature = "otlp-tls")]
    let tls = match &e {
        E::Rustls(r) => Some(super::tls::describe(r)),
        E::Io(io) => super::tls::tls_failure(io),
        _ => None,
    };
    #[cfg(not(feature = "otlp-tls"))]
    let tls: Option<String> = None;
    if let Some(why) = tls {
        return Attempt::Fail(ExportError::new(
            ExportErrorKind::Tls,
            format!("POST {url}: {why}; not retried"),
        ));
    }
    let kind: (ExportErrorKind, &str) = match &e {
        E::Io(_) | E::ConnectionFailed | E::HostNotFound | E::Protocol(_) | E::BodyStalled => {
            return Attempt::Retry {
                after: None,
                why: format!("POST {url}: {e}"),
                kind: ExportErrorKind::Connection,
            };
        }
        E::Timeout(_) => {
            return Attempt::Retry {
                after: None,
                why: format!("POST {url}: {e}"),
                kind: ExportErrorKind::Timeout,
            };
        }
        E::BadUri(_) => (ExportErrorKind::Configuration, "invalid URL"),
        E::Http(_) => (
            ExportErrorKind::Configuration,
            "invalid request: the URL or a header",
        ),
        E::Tls(_) | E::TlsRequired => (ExportErrorKind::Tls, "TLS"),
        #[cfg(feature = "otlp-tls")]
        E::Rustls(_) | E::Pem(_) => (ExportErrorKind::Tls, "TLS"),
        _ => (ExportErrorKind::Other, "request"),
    };
    let (kind, what) = kind;
    Attempt::Fail(ExportError::new(
        kind,
        format!("POST {url}: {e}; not retried ({what})"),
    ))
}
