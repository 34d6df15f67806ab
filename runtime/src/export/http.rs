//! One blocking HTTP POST for the network exporters (runs on the collector thread; no async
//! runtime involved), classified for the delivery policy.

use std::io::Write;
use std::time::Duration;

use super::ExportError;
use super::retry::{Attempt, retry_after, retryable_http};

/// A blocking client configured for exporters: statuses are values, not errors.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(concat!("traceweave/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
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
                    why: format!("{url} answered {s}"),
                },
                s => Attempt::Fail(ExportError::new(format!(
                    "{url} answered {s} (not retried): {}",
                    text.chars().take(200).collect::<String>()
                ))),
            }
        }
        // Refused, reset, timed out: transient, worth another try.
        Err(e) => Attempt::Retry {
            after: None,
            why: format!("{url}: {e}"),
        },
    }
}
