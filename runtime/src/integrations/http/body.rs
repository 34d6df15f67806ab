//! The response body the layers return: it keeps the request's span open until the body has been
//! streamed (or dropped), and reads the trailers the gRPC rules need.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::future::Open;
use crate::semconv::attr;
use crate::span::Status;

pin_project_lite::pin_project! {
    /// A response body that keeps its request's span open until the body has been streamed
    /// (or dropped), polling it under the span.
    #[derive(Debug)]
    pub struct TracedBody<B> {
        #[pin]
        inner: B,
        state: Option<Open>,
    }
}

impl<B> TracedBody<B> {
    pub(super) fn new(inner: B, state: Option<Open>) -> Self {
        TracedBody { inner, state }
    }
}

impl<B: http_body::Body> http_body::Body for TracedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let inner = this.inner;
        let poll = match this.state.as_mut() {
            Some(open) => open.span.run_in(open.ctx.as_ref(), || inner.poll_frame(cx)),
            None => inner.poll_frame(cx),
        };
        match &poll {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(trailers), Some(open)) = (frame.trailers_ref(), this.state.as_mut()) {
                    open.classifier.on_trailers(&mut open.span, trailers);
                }
            }
            Poll::Ready(None) => *this.state = None,
            Poll::Ready(Some(Err(_))) => {
                if let Some(mut open) = this.state.take()
                    && open.span.is_recording()
                {
                    open.span.set_attribute(
                        attr::ERROR_TYPE,
                        crate::integrations::error_type::<B::Error>(),
                    );
                    open.span
                        .set_status(Status::error("the body failed mid-stream"));
                }
            }
            _ => {}
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
