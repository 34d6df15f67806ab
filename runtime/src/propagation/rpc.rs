//! What `#[traced_rpc]` needs from an incoming request: its context and what it says about
//! itself (OpenTelemetry semantic conventions).

use crate::context::Context;
use crate::span::Span;

/// An incoming request or message that `#[traced_rpc]` recognises among a handler's
/// parameters: it carries the caller's context and describes the operation.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a request #[traced_rpc] can read the caller's context from",
    note = "enable traceweave's `http`, `tonic`, `amqp` or `nats` feature for that ecosystem's \
            types, or name the carrier with `#[traced_rpc(carrier = expr)]`"
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

#[cfg(feature = "http")]
mod http_impls {
    use super::*;

    impl RpcCarrier for http::HeaderMap {
        fn parent_context(&self) -> Context {
            crate::propagation::extract(self)
        }
    }

    impl<B> RpcCarrier for http::Request<B> {
        fn parent_context(&self) -> Context {
            crate::propagation::extract(self.headers())
        }
        fn describe(&self, span: &mut Span) {
            span.set_attribute("http.request.method", self.method().as_str().to_owned());
            span.set_attribute("url.path", self.uri().path().to_owned());
            if let Some(scheme) = self.uri().scheme_str() {
                span.set_attribute("url.scheme", scheme.to_owned());
            }
        }
    }
}

#[cfg(feature = "tonic")]
impl<T> RpcCarrier for tonic::Request<T> {
    fn parent_context(&self) -> Context {
        crate::propagation::extract(self.metadata())
    }
    fn describe(&self, span: &mut Span) {
        span.set_attribute("rpc.system", "grpc");
        let ext = self.extensions();
        if let Some(p) = ext.get::<crate::integrations::tonic::GrpcPath>() {
            span.set_attribute("rpc.service", p.service.clone());
            span.set_attribute("rpc.method", p.method.clone());
        } else if let Some(m) = ext.get::<tonic::GrpcMethod<'static>>() {
            span.set_attribute("rpc.service", m.service().to_owned());
            span.set_attribute("rpc.method", m.method().to_owned());
        }
    }
}

#[cfg(feature = "amqp")]
mod amqp_impls {
    use super::*;

    impl RpcCarrier for lapin::message::Delivery {
        fn parent_context(&self) -> Context {
            crate::propagation::extract(&self.properties)
        }
        fn describe(&self, span: &mut Span) {
            span.set_attribute("messaging.system", "rabbitmq");
            span.set_attribute("messaging.operation.type", "process");
            let destination = if self.exchange.as_str().is_empty() {
                self.routing_key.as_str()
            } else {
                self.exchange.as_str()
            };
            span.set_attribute("messaging.destination.name", destination.to_owned());
            span.set_attribute(
                "messaging.rabbitmq.destination.routing_key",
                self.routing_key.as_str().to_owned(),
            );
        }
    }

    impl RpcCarrier for lapin::BasicProperties {
        fn parent_context(&self) -> Context {
            crate::propagation::extract(self)
        }
        fn describe(&self, span: &mut Span) {
            span.set_attribute("messaging.system", "rabbitmq");
        }
    }
}

#[cfg(feature = "nats")]
impl RpcCarrier for async_nats::Message {
    fn parent_context(&self) -> Context {
        crate::propagation::extract(self)
    }
    fn describe(&self, span: &mut Span) {
        span.set_attribute("messaging.system", "nats");
        span.set_attribute("messaging.operation.type", "process");
        span.set_attribute("messaging.destination.name", self.subject.to_string());
    }
}
