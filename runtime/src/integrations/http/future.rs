//! The response future of the layers' service: polls the inner future under the span, marks the
//! span by the response head, then hands it to the response body.

use std::fmt::Display;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::body::TracedBody;
use super::classify::ResponseClassifier;
use crate::context::Context;
use crate::span::Span;

/// A span still open, with the context to make current while its work is polled.
#[derive(Debug)]
pub(super) struct Open {
    pub(super) span: Span,
    pub(super) ctx: Option<Context>,
    pub(super) classifier: ResponseClassifier,
}

pin_project_lite::pin_project! {
    /// The response future of [`ServerService`] and [`ClientService`]: polls the inner one
    /// under the span, then hands the span to the response body.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        state: Option<Open>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        span: Span,
        ctx: Option<Context>,
        classifier: ResponseClassifier,
    ) -> Self {
        ResponseFuture {
            inner,
            state: Some(Open {
                span,
                ctx,
                classifier,
            }),
        }
    }
}

impl<F, RB, E> std::future::Future for ResponseFuture<F>
where
    F: std::future::Future<Output = Result<http::Response<RB>, E>>,
    E: Display,
{
    type Output = Result<http::Response<TracedBody<RB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        let poll = match this.state.as_mut() {
            Some(open) => open.span.run_in(open.ctx.as_ref(), || inner.poll(cx)),
            None => inner.poll(cx),
        };
        let Poll::Ready(result) = poll else {
            return Poll::Pending;
        };
        let mut open = this.state.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(open) = &mut open {
                    // A trailers-only gRPC response carries its status in the headers.
                    (open.classifier).on_response(
                        &mut open.span,
                        response.status(),
                        response.headers(),
                    );
                }
                Ok(response.map(|body| TracedBody::new(body, open)))
            }
            Err(e) => {
                if let Some(mut open) = open {
                    crate::integrations::record_failure(&mut open.span, &e);
                }
                Err(e)
            }
        })
    }
}
