//! tonic servers: a layer that tells `#[traced_rpc]` which gRPC method a request is for.
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

use std::task::{Context, Poll};

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

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
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
