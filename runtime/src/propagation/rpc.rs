//! What `#[traced_rpc]` needs from an incoming request: its context and what it says about
//! itself (OpenTelemetry semantic conventions).

use crate::context::Context;
use crate::span::Span;

/// An incoming request or message that `#[traced_rpc]` recognises among a handler's
/// parameters: it carries the caller's context and describes the operation.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a request #[traced_rpc] can read the caller's context from",
    note = "enable traceweave's `http`, `tonic`, `amqp` or `nats` feature for that ecosystem's \
            types, implement `traceweave::propagation::RpcCarrier` for your own request type, or \
            name the carrier with `#[traced_rpc(carrier = expr)]`"
)]
pub trait RpcCarrier {
    /// The context the caller sent (no span when there was none or it was invalid).
    fn parent_context(&self) -> Context;

    /// Records the semantic-convention attributes this request reveals.
    fn describe(&self, span: &mut Span) {
        let _ = span;
    }
}

impl<T: RpcCarrier + ?Sized> RpcCarrier for &T {
    fn parent_context(&self) -> Context {
        (**self).parent_context()
    }
    fn describe(&self, span: &mut Span) {
        (**self).describe(span)
    }
}

impl<T: RpcCarrier + ?Sized> RpcCarrier for &mut T {
    fn parent_context(&self) -> Context {
        (**self).parent_context()
    }
    fn describe(&self, span: &mut Span) {
        (**self).describe(span)
    }
}
