//! reqwest: a `reqwest-middleware` middleware that traces every request of a client.
//!
//! ```no_run
//! # async fn fetch(url: &str) -> Result<String, reqwest_middleware::Error> {
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(traceweave::integrations::reqwest::TracingMiddleware::new())
//!     .build();
//! let body = client.get(url).send().await?.text().await?;
//! # Ok(body)
//! # }
//! ```

use reqwest_middleware::{Middleware, Next};

use super::http::{
    Method, ResponseClassifier, client_span, protocol_version, record_server, sw8_address,
};
use crate::context::FutureExt;
use crate::redact::UrlRedaction;
use crate::semconv::attr;

/// Opens a client span per request, child of the current context, named `{method}`, and
/// injects its context into the request headers; records `http.request.method`, `url.full`
/// (credentials and the values of sensitive query parameters replaced by `REDACTED`: see
/// [`UrlRedaction`]), `server.address`, `server.port`, `network.protocol.version`,
/// `http.response.status_code` and `error.type`. 4xx and 5xx responses and errors (a refused
/// connection, a timeout) mark it failed, the error's text without any URL's query. The span
/// ends when the response headers arrive: the body is read from the `Response` the application
/// holds, outside the middleware.
#[derive(Debug, Clone, Default)]
pub struct TracingMiddleware {
    redaction: UrlRedaction,
}

impl TracingMiddleware {
    /// The middleware, redacting what [`UrlRedaction::new`] redacts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Which query values `url.full` keeps: more keys redacted, or the query in full.
    pub fn url_redaction(mut self, redaction: UrlRedaction) -> Self {
        self.redaction = redaction;
        self
    }
}

#[async_trait::async_trait]
impl Middleware for TracingMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let method = Method::of(req.method());
        let address = sw8_address(req.url().host_str(), req.url().port_or_known_default());
        let mut span = client_span(&method, req.headers_mut(), address.as_deref());
        if span.is_recording() {
            let url = req.url();
            span.set_attribute(
                attr::URL_FULL,
                self.redaction.url(url.as_str()).into_owned(),
            );
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
                ResponseClassifier::HTTP_CLIENT.on_response(
                    &mut span,
                    response.status(),
                    response.headers(),
                );
            }
            Err(e) => {
                if span.is_recording() {
                    span.set_attribute(attr::ERROR_TYPE, error_type(e));
                    let text = super::error_text(&span, e);
                    span.set_status(crate::span::Status::error(text));
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
