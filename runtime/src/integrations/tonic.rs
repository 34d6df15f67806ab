//! tonic (gRPC): metadata carriers, what `#[traced_rpc]` reads from a `tonic::Request`, how a
//! handler's `Result<Response<T>, Status>` marks its span, and a layer that tells
//! `#[traced_rpc]` which gRPC method a request is for.
//!
//! tonic hands a handler its message and metadata but not the request path, so
//! `rpc.service` and `rpc.method` are unknown inside the handler. Add [`GrpcMethodLayer`] to
//! the server and `#[traced_rpc]` records them:
//!
//! ```ignore
//! tonic::transport::Server::builder()
//!     .layer(traceweave::integrations::tonic::GrpcMethodLayer)
//!     .add_service(MyServer::new(my_service))
//! ```

use std::task::{Context as TaskContext, Poll};

use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::{Code, Status};

use crate::__private::{Outcome, ViaEcosystem};
use crate::context::Context;
use crate::propagation::{Extractor, Injector, RpcCarrier};
use crate::semconv::rpc;
use crate::span::{Key, Span, SpanKind, Status as SpanStatus};

impl Extractor for MetadataMap {
    fn get(&self, key: &str) -> Option<&str> {
        Extractor::get(self.as_ref(), key)
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        Extractor::get_all(self.as_ref(), key)
    }
    fn keys(&self) -> Vec<String> {
        Extractor::keys(self.as_ref())
    }
}

impl Injector for MetadataMap {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.insert(k, v);
        }
    }
}

impl<T> Extractor for tonic::Request<T> {
    fn get(&self, key: &str) -> Option<&str> {
        Extractor::get(self.metadata(), key)
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        Extractor::get_all(self.metadata(), key)
    }
    fn keys(&self) -> Vec<String> {
        Extractor::keys(self.metadata())
    }
}

impl<T> Injector for tonic::Request<T> {
    fn set(&mut self, key: &str, value: String) {
        Injector::set(self.metadata_mut(), key, value)
    }
}

impl<T> RpcCarrier for tonic::Request<T> {
    fn parent_context(&self) -> Context {
        crate::propagation::extract(self.metadata())
    }
    fn describe(&self, span: &mut Span) {
        span.set_attribute(rpc::SYSTEM, "grpc");
        let ext = self.extensions();
        if let Some(p) = ext.get::<GrpcPath>() {
            span.set_attribute(rpc::SERVICE, p.service.clone());
            span.set_attribute(rpc::METHOD, p.method.clone());
        } else if let Some(m) = ext.get::<tonic::GrpcMethod<'static>>() {
            span.set_attribute(rpc::SERVICE, m.service().to_owned());
            span.set_attribute(rpc::METHOD, m.method().to_owned());
        }
    }
}

/// Whether a gRPC status code marks a span of this kind failed: a server (or consumer) fails
/// only on the codes that say the server is at fault, a client on every code but `OK`.
pub fn is_failure(code: Code, kind: SpanKind) -> bool {
    match kind {
        SpanKind::Server | SpanKind::Consumer => matches!(
            code,
            Code::Unknown
                | Code::DeadlineExceeded
                | Code::Unimplemented
                | Code::Internal
                | Code::Unavailable
                | Code::DataLoss
        ),
        _ => code != Code::Ok,
    }
}

/// Records `rpc.grpc.status_code` and marks the span failed per [`is_failure`].
pub(crate) fn record_code(span: &mut Span, code: Code, message: &str) {
    let Some(kind) = span.kind() else { return };
    span.set_attribute(Key::from_static(rpc::GRPC_STATUS_CODE), code as i64);
    if is_failure(code, kind) {
        let text = if message.is_empty() {
            format!("{code:?}")
        } else {
            format!("{code:?}: {message}")
        };
        span.set_status(SpanStatus::error(text));
    }
}

impl<T> ViaEcosystem for &&&Outcome<'_, Result<tonic::Response<T>, Status>> {
    #[inline]
    fn __tw_outcome(&self, span: &mut Span) {
        match self.0 {
            Ok(_) => record_code(span, Code::Ok, ""),
            Err(status) => record_code(span, status.code(), status.message()),
        }
    }
}

impl ViaEcosystem for &&&Outcome<'_, Status> {
    #[inline]
    fn __tw_outcome(&self, span: &mut Span) {
        record_code(span, self.0.code(), self.0.message());
    }
}

/// The service and method of a gRPC request, from its path `/package.Service/Method`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcPath {
    /// `package.Service`.
    pub service: String,
    /// `Method`.
    pub method: String,
}

impl GrpcPath {
    /// Parses `/package.Service/Method`.
    pub fn parse(path: &str) -> Option<Self> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        (!service.is_empty() && !method.is_empty() && !method.contains('/')).then(|| GrpcPath {
            service: service.to_owned(),
            method: method.to_owned(),
        })
    }
}

/// Inserts a [`GrpcPath`] extension into every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcMethodLayer;

impl<S> tower_layer::Layer<S> for GrpcMethodLayer {
    type Service = GrpcMethodService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMethodService { inner }
    }
}

/// The service [`GrpcMethodLayer`] makes.
#[derive(Debug, Clone)]
pub struct GrpcMethodService<S> {
    inner: S,
}

impl<S, B> tower_service::Service<http::Request<B>> for GrpcMethodService<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if let Some(path) = GrpcPath::parse(req.uri().path()) {
            req.extensions_mut().insert(path);
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::GrpcPath;

    #[test]
    fn parses_grpc_paths() {
        assert_eq!(
            GrpcPath::parse("/shop.v1.Inventory/Reserve"),
            Some(GrpcPath {
                service: "shop.v1.Inventory".into(),
                method: "Reserve".into()
            })
        );
        assert_eq!(GrpcPath::parse("/x"), None);
        assert_eq!(GrpcPath::parse("/a/b/c"), None);
    }
}
