//! The service every traceweave layer makes, and what a layer tells it: how to open the span of
//! a request ([`MakeSpan`]).

use std::fmt::Display;
use std::task::{Context as TaskContext, Poll};

use super::body::TracedBody;
use super::classify::ResponseClassifier;
use super::future::ResponseFuture;
use crate::span::Span;

pub(crate) mod sealed {
    /// Only traceweave's layers open spans for [`TracedService`](super::TracedService).
    pub trait Sealed {}
}

/// How a traceweave layer opens the span of a request: extracting the caller's context or
/// injecting its own, adding what the handler may read to the request's extensions, and
/// choosing the [`ResponseClassifier`] its response is marked by. Implemented by
/// [`ServerLayer`](super::ServerLayer), [`ClientLayer`](super::ClientLayer) and the gRPC layers
/// of `integrations::tonic`; sealed, so [`TracedService`] stays the only caller.
pub trait MakeSpan: sealed::Sealed {
    /// Opens the span of `req` and says how its response will mark it.
    fn make_span<B>(&self, req: &mut http::Request<B>) -> (Span, ResponseClassifier);
}

/// The service every traceweave layer makes: the span its layer opens is current while the
/// inner service is called and its future polled, and ends once the response body has been
/// streamed (or dropped).
#[derive(Debug, Clone)]
pub struct TracedService<S, L> {
    inner: S,
    how: L,
}

impl<S, L> TracedService<S, L> {
    pub(crate) fn new(inner: S, how: L) -> Self {
        TracedService { inner, how }
    }
}

impl<S, L, B, RB> tower_service::Service<http::Request<B>> for TracedService<S, L>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Error: Display,
    L: MakeSpan,
    RB: http_body::Body,
{
    type Response = http::Response<TracedBody<RB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let (mut span, classifier) = self.how.make_span(&mut req);
        let ctx = span.attach_context();
        let inner = span.run_in(ctx.as_ref(), || self.inner.call(req));
        ResponseFuture::new(inner, span, ctx, classifier)
    }
}
