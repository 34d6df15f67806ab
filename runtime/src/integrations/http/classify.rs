//! How a response marks the span of its request: the outcome rules of `#[traced_rpc]` handlers
//! returning `http` types, and the [`ResponseClassifier`] every traceweave layer (HTTP and
//! gRPC) applies to the response head and trailers.

use std::fmt::Display;

use http::HeaderMap;

use crate::__private::{Outcome, ViaEcosystem};
use crate::semconv::attr;
use crate::span::{Key, Span, Status};

/// How the response of a traced request marks its span. The layers choose it when they open
/// the span: [`ServerLayer`](super::ServerLayer) and [`ClientLayer`](super::ClientLayer) by the
/// HTTP status, the gRPC layers by the `grpc-status` a response carries in its trailers (or in
/// the headers of a trailers-only response).
///
/// - [`HTTP_SERVER`](Self::HTTP_SERVER): `http.response.status_code`; a 5xx fails the span
///   (`error.type` is the status), a 4xx does not: it is the client's fault, not the server's.
/// - [`HTTP_CLIENT`](Self::HTTP_CLIENT): the same, and a 4xx fails the span too.
/// - gRPC (`integrations::tonic`'s layers): `rpc.grpc.status_code`, and the codes the
///   semantic conventions call errors for the span's side fail it.
#[derive(Debug, Clone, Copy)]
pub struct ResponseClassifier(Rule);

#[derive(Debug, Clone, Copy)]
enum Rule {
    Http(Side),
    /// A status another protocol sends in the headers or the trailers: the function records it
    /// from either and says whether it found one.
    Trailers(fn(&mut Span, &HeaderMap) -> bool),
}

/// Whose span: a server fails on 5xx only, a client on 4xx too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

impl ResponseClassifier {
    /// A server's span: by the HTTP status, failed on 5xx.
    pub const HTTP_SERVER: ResponseClassifier = ResponseClassifier(Rule::Http(Side::Server));
    /// A client's span: by the HTTP status, failed on 4xx and 5xx.
    pub const HTTP_CLIENT: ResponseClassifier = ResponseClassifier(Rule::Http(Side::Client));

    /// By a status `record` finds in the response's headers or trailers (gRPC's).
    #[cfg_attr(not(feature = "tonic"), allow(dead_code))]
    pub(crate) const fn by_trailers(record: fn(&mut Span, &HeaderMap) -> bool) -> Self {
        ResponseClassifier(Rule::Trailers(record))
    }

    /// Marks `span` by the response head: its status, or (gRPC) a trailers-only status.
    pub(crate) fn on_response(
        &self,
        span: &mut Span,
        status: http::StatusCode,
        headers: &HeaderMap,
    ) {
        match self.0 {
            Rule::Http(side) => record_response(span, status, side),
            Rule::Trailers(record) => {
                record(span, headers);
            }
        }
    }

    /// Marks `span` by the trailers at the end of the body (gRPC); HTTP rules ignore them.
    pub(crate) fn on_trailers(&self, span: &mut Span, trailers: &HeaderMap) {
        if let Rule::Trailers(record) = self.0 {
            record(span, trailers);
        }
    }
}

fn record_response(span: &mut Span, status: http::StatusCode, side: Side) {
    if !span.is_recording() {
        return;
    }
    span.set_attribute(
        Key::from_static(attr::HTTP_RESPONSE_STATUS_CODE),
        i64::from(status.as_u16()),
    );
    let failed = status.is_server_error() || (side == Side::Client && status.is_client_error());
    if failed {
        span.set_attribute(attr::ERROR_TYPE, status.as_str().to_owned());
        span.set_status(Status::error(status.to_string()));
    }
}

/// Records the response status; 5xx marks a server span failed.
fn http_status(span: &mut Span, status: http::StatusCode) {
    if span.is_recording() {
        span.set_attribute(
            Key::from_static(attr::HTTP_RESPONSE_STATUS_CODE),
            i64::from(status.as_u16()),
        );
        if status.is_server_error() {
            span.set_status(Status::error(status.to_string()));
        }
    }
}

impl<B> ViaEcosystem for &&&Outcome<'_, http::Response<B>> {
    #[inline]
    fn __tw_outcome(&self, span: &mut Span) {
        http_status(span, self.0.status());
    }
}

impl ViaEcosystem for &&&Outcome<'_, http::StatusCode> {
    #[inline]
    fn __tw_outcome(&self, span: &mut Span) {
        http_status(span, *self.0);
    }
}

impl<T> ViaEcosystem for &&&Outcome<'_, (http::StatusCode, T)> {
    #[inline]
    fn __tw_outcome(&self, span: &mut Span) {
        http_status(span, self.0.0);
    }
}

impl<B, E: Display> ViaEcosystem for &&&Outcome<'_, Result<http::Response<B>, E>> {
    #[inline]
    fn __tw_outcome(&self, span: &mut Span) {
        match self.0 {
            Ok(r) => http_status(span, r.status()),
            Err(e) => {
                if span.is_recording() {
                    let text = crate::integrations::error_text(span, e);
                    span.set_status(Status::error(text));
                }
            }
        }
    }
}
