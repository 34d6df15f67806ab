//! reqwest: a `reqwest-middleware` middleware that traces every request of a client.
//!
//! ```ignore
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(traceweave::integrations::reqwest::TracingMiddleware)
//!     .build();
//! let body = client.get(url).send().await?.text().await?;
//! ```

use reqwest_middleware::{Middleware, Next};

use super::http::{Method, Side, client_span, protocol_version, record_response, record_server};
use crate::context::FutureExt;
use crate::semconv::attr;

/// Opens a client span per request, child of the current context, named `{method}`, and
/// injects its context into the request headers; records `http.request.method`, `url.full`
/// (credentials redacted), `server.address`, `server.port`, `network.protocol.version`,
/// `http.response.status_code` and `error.type`. 4xx and 5xx responses and errors (a refused
/// connection, a timeout) mark it failed. The span ends when the response headers arrive: the
/// body is read from the `Response` the application holds, outside the middleware.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingMiddleware;

#[async_trait::async_trait]
impl Middleware for TracingMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let method = Method::of(req.method());
        let mut span = client_span(&method, req.headers_mut());
        if span.is_recording() {
            let url = req.url();
            span.set_attribute(attr::URL_FULL, redacted(url));
            record_server(&mut span, url.host_str(), url.port_or_known_default());
        }
        let run = next.run(req, extensions);
        let result = match span.attach_context() {
            Some(ctx) => run.with_context(ctx).await,
            None => run.await,
        };
        match &result {
            Ok(response) => {
                if span.is_recording()
                    && let Some(version) = protocol_version(response.version())
                {
                    span.set_attribute(attr::NETWORK_PROTOCOL_VERSION, version);
                }
                record_response(&mut span, response.status(), Side::Client);
            }
            Err(e) => {
                if span.is_recording() {
                    span.set_attribute(attr::ERROR_TYPE, error_type(e));
                    span.set_status(crate::span::Status::error(e.to_string()));
                }
            }
        }
        result
    }
}

/// A low-cardinality `error.type` for a failed request.
fn error_type(e: &reqwest_middleware::Error) -> &'static str {
    match e {
        reqwest_middleware::Error::Reqwest(e) if e.is_timeout() => "timeout",
        reqwest_middleware::Error::Reqwest(e) if e.is_connect() => "connect",
        reqwest_middleware::Error::Reqwest(_) => "reqwest::Error",
        reqwest_middleware::Error::Middleware(_) => "_OTHER",
    }
}

/// The URL with its credentials replaced by `REDACTED`, as the conventions ask.
fn redacted(url: &reqwest::Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut url = url.clone();
    let _ = url.set_username("REDACTED");
    let _ = url.set_password(Some("REDACTED"));
    url.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_never_reach_url_full() {
        let url = reqwest::Url::parse("https://bob:s3cret@api.example/pay?x=1").unwrap();
        assert_eq!(
            super::redacted(&url),
            "https://REDACTED:REDACTED@api.example/pay?x=1"
        );
        let url = reqwest::Url::parse("http://api.example:8080/x").unwrap();
        assert_eq!(super::redacted(&url), "http://api.example:8080/x");
    }
}
