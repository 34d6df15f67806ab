//! One blocking HTTP POST for the network exporters (runs on the collector thread; no async
//! runtime involved), classified for the delivery policy.

use std::io::Write;
use std::time::Duration;

use super::ExportError;
use super::retry::{Attempt, retry_after, retryable_http};
use super::tls::TlsSettings;

/// A blocking client configured for exporters: statuses are values, not errors; TLS trusts the
/// webpki roots or the CA in `tls`.
pub(crate) fn agent(tls: &TlsSettings) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(concat!("traceweave/", env!("CARGO_PKG_VERSION")));
    #[cfg(feature = "otlp-tls")]
    {
        use ureq::unversioned::resolver::DefaultResolver;
        use ureq::unversioned::transport::{Connector, TcpConnector};
        // TLS by traceweave's own connector: ureq takes no certificate verifier from outside.
        let tls = super::tls::connect::UreqTls {
            config: tls.client_config(&[]),
        };
        let connector = ().chain(TcpConnector::default()).chain(tls);
        ureq::Agent::with_parts(config.build(), connector, DefaultResolver::default())
    }
    #[cfg(not(feature = "otlp-tls"))]
    {
        let _ = tls;
        config.build().into()
    }
}

pub(crate) fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

/// POSTs `body` once, taking at most `timeout`.
pub(crate) fn post(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(String, String)],
    content_type: &str,
    gzipped: bool,
    body: &[u8],
    timeout: Duration,
) -> Attempt {
    let mut req = agent.post(url).header("content-type", content_type);
    if gzipped {
        req = req.header("content-encoding", "gzip");
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
                s if retryable_http(s) => Attempt::Retry {
                    after,
                    why: format!("POST {url} answered {s}"),
                    kind: status_kind(s),
                },
                s => {
                    let text: String = text.chars().take(200).collect();
                    let text = text.trim();
                    let hint = match s {
                        401 | 403 => " (check the authorization headers)",
                        404 => " (check the endpoint's path: OTLP/HTTP traces go to /v1/traces)",
                        413 => {
                            " (the batch is too large for the receiver: lower \
                                 OTEL_BSP_MAX_EXPORT_BATCH_SIZE)"
                        }
                        _ => "",
                    };
                    Attempt::Fail(
                        ExportError::new(format!(
                            "POST {url} answered {s}{hint}; not retried{}{text}",
                            if text.is_empty() { "" } else { ": " }
                        ))
                        .with_kind(status_kind(s)),
                    )
                }
            }
        }
        Err(e) => classify(url, e),
    }
}

fn status_kind(status: u16) -> &'static str {
    match status {
        400 => "HTTP 400",
        401 => "HTTP 401",
        403 => "HTTP 403",
        404 => "HTTP 404",
        413 => "HTTP 413",
        429 => "HTTP 429",
        502 => "HTTP 502",
        503 => "HTTP 503",
        504 => "HTTP 504",
        500..=599 => "HTTP 5xx",
        _ => "HTTP 4xx",
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
        return Attempt::Fail(
            ExportError::new(format!("POST {url}: {why}; not retried")).with_kind("TLS"),
        );
    }
    let kind = match &e {
        E::Io(_) | E::ConnectionFailed | E::HostNotFound | E::Protocol(_) | E::BodyStalled => {
            return Attempt::Retry {
                after: None,
                why: format!("POST {url}: {e}"),
                kind: "connection",
            };
        }
        E::Timeout(_) => {
            return Attempt::Retry {
                after: None,
                why: format!("POST {url}: {e}"),
                kind: "timeout",
            };
        }
        E::BadUri(_) => "invalid URL",
        E::Http(_) => "invalid request: the URL or a header",
        E::Tls(_) | E::TlsRequired => "TLS",
        #[cfg(feature = "otlp-tls")]
        E::Rustls(_) | E::Pem(_) => "TLS",
        _ => "request",
    };
    Attempt::Fail(
        ExportError::new(format!("POST {url}: {e}; not retried ({kind})")).with_kind(kind),
    )
}
