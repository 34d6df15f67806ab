//! tonic (gRPC): metadata carriers, what `#[traced_rpc]` reads from a `tonic::Request`, how a
//! handler's `Result<Response<T>, Status>` marks its span, layers that trace a whole client
//! ([`GrpcClientLayer`]) or a whole server ([`GrpcServerLayer`]), and a layer that tells
//! `#[traced_rpc]` which gRPC method a request is for.
//!
//! ```ignore
//! // (Not compiled here: `InventoryClient`/`InventoryServer` are generated gRPC stubs;
//! // `tests/tests/grpc_layers.rs` builds both layers around real ones.)
//! // Every call of a client: a client span, its context in the metadata.
//! let channel = tonic::transport::Endpoint::from_static("http://inventory:50051").connect().await?;
//! let client = InventoryClient::new(GrpcClientLayer::to(&uri).layer(channel));
//!
//! // Every method of a server: a server span under the caller's (instead of #[traced_rpc]
//! // on each method).
//! tonic::transport::Server::builder()
//!     .layer(traceweave::integrations::tonic::GrpcServerLayer)
//!     .add_service(InventoryServer::new(stock))
//! ```
//!
//! Server spans fail only on the codes that put the fault on the server (`UNKNOWN`,
//! `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`), client spans on
//! every code but `OK`; both record `rpc.grpc.status_code`.
//!
//! tonic hands a handler its message and metadata but not the request path, so
//! `rpc.service` and `rpc.method` are unknown inside the handler. Add [`GrpcMethodLayer`] to
//! the server and `#[traced_rpc]` records them:
//!
//! ```ignore
//! // (Generated stubs again: see `tests/tests/grpc_layers.rs`.)
//! tonic::transport::Server::builder()
//!     .layer(traceweave::integrations::tonic::GrpcMethodLayer)
//!     .add_service(MyServer::new(my_service))
//! ```

use std::borrow::Cow;
use std::task::{Context as TaskContext, Poll};

use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::{Code, Status};

use crate::__private::{Outcome, ViaEcosystem};
use crate::context::Context;
use crate::integrations::http::{
    MakeSpan, ResponseClassifier, TracedService, record_server, sealed,
};
use crate::propagation::{Extractor, Injector, RpcCarrier};
use crate::semconv::rpc;
use crate::span::{Key, Parent, Span, SpanKind, Status as SpanStatus};

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
///
/// ```
/// use tonic::Code;
/// use traceweave::SpanKind;
/// use traceweave::integrations::tonic::is_failure;
/// // NOT_FOUND is the caller's problem: the server span stays OK, the client's fails.
/// assert!(!is_failure(Code::NotFound, SpanKind::Server));
/// assert!(is_failure(Code::NotFound, SpanKind::Client));
/// assert!(is_failure(Code::Internal, SpanKind::Server));
/// ```
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
///
/// ```
/// use traceweave::integrations::tonic::GrpcPath;
/// let path = GrpcPath::parse("/shop.inventory.v1.Inventory/Reserve").unwrap();
/// assert_eq!((path.service.as_str(), path.method.as_str()), ("shop.inventory.v1.Inventory", "Reserve"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcPath {
    /// `package.Service`.
    pub service: String,
    /// `Method`.
    pub method: String,
}

impl GrpcPath {
    /// Parses `/package.Service/Method`.
    ///
    /// ```
    /// use traceweave::integrations::tonic::GrpcPath;
    /// assert!(GrpcPath::parse("/pkg.Svc/Method").is_some());
    /// assert!(GrpcPath::parse("/not-grpc").is_none());
    /// assert!(GrpcPath::parse("/a/b/c").is_none());
    /// ```
    pub fn parse(path: &str) -> Option<Self> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        (!service.is_empty() && !method.is_empty() && !method.contains('/')).then(|| GrpcPath {
            service: service.to_owned(),
            method: method.to_owned(),
        })
    }
}

/// The gRPC layers' response rules: by `grpc-status`, in the trailers or a trailers-only head.
const GRPC: ResponseClassifier = ResponseClassifier::by_trailers(record_grpc_status);

/// Records the status a gRPC response carries in `headers` (the trailers, or the headers of a
/// trailers-only response); `false` if there is none.
fn record_grpc_status(span: &mut Span, headers: &http::HeaderMap) -> bool {
    let Some(code) = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i32>().ok())
    else {
        return false;
    };
    let message = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(|m| {
            percent_encoding::percent_decode_str(m)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    record_code(span, Code::from_i32(code), &message);
    true
}

/// The span name of a gRPC call: `package.Service/Method`.
fn span_name(path: Option<&GrpcPath>, uri: &http::Uri) -> Cow<'static, str> {
    match path {
        Some(p) => Cow::Owned(format!("{}/{}", p.service, p.method)),
        None => Cow::Owned(uri.path().trim_start_matches('/').to_owned()),
    }
}

fn describe_call(span: &mut Span, path: Option<&GrpcPath>) {
    span.set_attribute(rpc::SYSTEM, "grpc");
    if let Some(p) = path {
        span.set_attribute(rpc::SERVICE, p.service.clone());
        span.set_attribute(rpc::METHOD, p.method.clone());
    }
}

/// A tower layer for a tonic server that traces every call of every service: a server span
/// per call, child of the caller's context from the metadata, named `package.Service/Method`,
/// with `rpc.system`, `rpc.service`, `rpc.method` and `rpc.grpc.status_code` (read from the
/// response's trailers). Handlers inside may still use `#[traced]`; do not also put
/// `#[traced_rpc]` on them (that would make a second server span).
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{Ready, ready};
/// use std::task::{Context, Poll, Waker};
/// use tower_layer::Layer;
/// use tower_service::Service;
///
/// /// A gRPC service as tonic hands it to its layers: HTTP/2 requests in, responses out.
/// struct Inventory;
///
/// impl Service<http::Request<String>> for Inventory {
///     type Response = http::Response<String>;
///     type Error = Infallible;
///     type Future = Ready<Result<http::Response<String>, Infallible>>;
///
///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///
///     fn call(&mut self, _: http::Request<String>) -> Self::Future {
///         // A trailers-only answer: the status in the head.
///         let response = http::Response::builder().header("grpc-status", "5").body(String::new());
///         ready(Ok(response.unwrap()))
///     }
/// }
///
/// use traceweave::integrations::tonic::GrpcServerLayer;
///
/// let spans = traceweave::testing::capture(|| {
///     let mut service = GrpcServerLayer.layer(Inventory);
///     let request = http::Request::post("/shop.Inventory/Reserve").body(String::new()).unwrap();
///     let mut future = std::pin::pin!(service.call(request));
///     let Poll::Ready(response) = future.as_mut().poll(&mut Context::from_waker(Waker::noop()))
///     else {
///         unreachable!("the service answers at once")
///     };
///     drop(response);
/// });
/// let span = spans.named("shop.Inventory/Reserve").unwrap();
/// assert_eq!(span.kind, traceweave::SpanKind::Server);
/// assert_eq!(span.attribute("rpc.grpc.status_code"), Some(&traceweave::Value::I64(5)));
/// assert!(!span.status.is_error(), "NOT_FOUND is the caller's problem");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcServerLayer;

impl<S> tower_layer::Layer<S> for GrpcServerLayer {
    type Service = GrpcServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TracedService::new(inner, *self)
    }
}

impl sealed::Sealed for GrpcServerLayer {}

impl MakeSpan for GrpcServerLayer {
    fn make_span<B>(&self, req: &mut http::Request<B>) -> (Span, ResponseClassifier) {
        let parent = crate::propagation::extract(req.headers());
        let path = GrpcPath::parse(req.uri().path());
        let name = span_name(path.as_ref(), req.uri());
        let mut span = crate::tracer::start(name, SpanKind::Server, Parent::Explicit(&parent));
        if span.is_recording() {
            describe_call(&mut span, path.as_ref());
        }
        if let Some(path) = path {
            req.extensions_mut().insert(path);
        }
        (span, GRPC)
    }
}

/// The service [`GrpcServerLayer`] makes.
///
/// ```
/// use tower_layer::Layer;
/// use traceweave::integrations::tonic::{GrpcServerLayer, GrpcServerService};
///
/// #[derive(Clone)]
/// struct Handler;
/// let service: GrpcServerService<Handler> = GrpcServerLayer.layer(Handler);
/// # drop(service);
/// ```
pub type GrpcServerService<S> = TracedService<S, GrpcServerLayer>;

/// A tower layer for a tonic client (around a `Channel`) that traces every call: a client
/// span child of the current context, named `package.Service/Method`, injected into the
/// request metadata, with `rpc.system`, `rpc.service`, `rpc.method`, `server.address`,
/// `server.port` and `rpc.grpc.status_code`; any code but `OK`, or a transport error, marks it
/// failed. The span ends when the response stream has been read.
///
/// A tonic client sends requests without the server's address (the `Channel` adds it below
/// the layer), so name the server with [`to`](Self::to) for `server.address` and `server.port`
/// (a client made `with_origin` needs not: its requests carry it).
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{Ready, ready};
/// use std::task::{Context, Poll, Waker};
/// use tower_layer::Layer;
/// use tower_service::Service;
///
/// /// A gRPC service as tonic hands it to its layers: HTTP/2 requests in, responses out.
/// struct Inventory;
///
/// impl Service<http::Request<String>> for Inventory {
///     type Response = http::Response<String>;
///     type Error = Infallible;
///     type Future = Ready<Result<http::Response<String>, Infallible>>;
///
///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///
///     fn call(&mut self, _: http::Request<String>) -> Self::Future {
///         // A trailers-only answer: the status in the head.
///         let response = http::Response::builder().header("grpc-status", "5").body(String::new());
///         ready(Ok(response.unwrap()))
///     }
/// }
///
/// use traceweave::integrations::tonic::GrpcClientLayer;
///
/// let spans = traceweave::testing::capture(|| {
///     // Around a tonic Channel in a real client; here around the service itself.
///     let uri: http::Uri = "http://inventory:50051".parse().unwrap();
///     let mut client = GrpcClientLayer::to(&uri).layer(Inventory);
///     let request = http::Request::post("/shop.Inventory/Reserve").body(String::new()).unwrap();
///     let mut future = std::pin::pin!(client.call(request));
///     let Poll::Ready(response) = future.as_mut().poll(&mut Context::from_waker(Waker::noop()))
///     else {
///         unreachable!()
///     };
///     drop(response);
/// });
/// let span = spans.named("shop.Inventory/Reserve").unwrap();
/// assert_eq!(span.kind, traceweave::SpanKind::Client);
/// assert_eq!(span.attribute("server.address").and_then(|v| v.as_str()), Some("inventory"));
/// assert!(span.status.is_error(), "a client fails on every code but OK");
/// ```
#[derive(Debug, Clone, Default)]
pub struct GrpcClientLayer {
    server: Option<(std::sync::Arc<str>, Option<u16>)>,
}

impl GrpcClientLayer {
    /// The layer, with the server's address taken from each request's URI if it has one.
    ///
    /// ```
    /// use traceweave::integrations::tonic::GrpcClientLayer;
    /// // For a client whose requests carry the server's URI (a client made with_origin).
    /// let layer = GrpcClientLayer::new();
    /// # drop(layer);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The layer for a client of the server at `uri` (the endpoint's URI).
    ///
    /// ```
    /// use traceweave::integrations::tonic::GrpcClientLayer;
    /// let uri: http::Uri = "https://inventory.internal:50051".parse().unwrap();
    /// let layer = GrpcClientLayer::to(&uri); // server.address and server.port from it
    /// # drop(layer);
    /// ```
    pub fn to(uri: &http::Uri) -> Self {
        GrpcClientLayer {
            server: server_of(uri).map(|(host, port)| (std::sync::Arc::from(host), port)),
        }
    }
}

/// `server.address` and `server.port` of a URI (the port defaulted from the scheme).
fn server_of(uri: &http::Uri) -> Option<(&str, Option<u16>)> {
    let host = uri.host()?;
    let port = uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    Some((host, port))
}

impl<S> tower_layer::Layer<S> for GrpcClientLayer {
    type Service = GrpcClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TracedService::new(inner, self.clone())
    }
}

impl sealed::Sealed for GrpcClientLayer {}

impl MakeSpan for GrpcClientLayer {
    fn make_span<B>(&self, req: &mut http::Request<B>) -> (Span, ResponseClassifier) {
        let path = GrpcPath::parse(req.uri().path());
        let name = span_name(path.as_ref(), req.uri());
        let mut span = crate::tracer::start(name, SpanKind::Client, Parent::Current);
        let target = server_of(req.uri()).or_else(|| self.server.as_ref().map(|(h, p)| (&**h, *p)));
        match super::http::sw8_address(target.map(|t| t.0), target.and_then(|t| t.1)) {
            Some(address) => {
                crate::propagation::inject_context_to(&span.context(), req.headers_mut(), &address)
            }
            None => crate::propagation::inject_context(&span.context(), req.headers_mut()),
        }
        if span.is_recording() {
            describe_call(&mut span, path.as_ref());
            let server =
                server_of(req.uri()).or_else(|| self.server.as_ref().map(|(h, p)| (&**h, *p)));
            if let Some((host, port)) = server {
                record_server(&mut span, Some(host), port);
            }
        }
        (span, GRPC)
    }
}

/// The service [`GrpcClientLayer`] makes.
///
/// ```
/// use tower_layer::Layer;
/// use traceweave::integrations::tonic::{GrpcClientLayer, GrpcClientService};
///
/// #[derive(Clone)]
/// struct Channel;
/// let client: GrpcClientService<Channel> = GrpcClientLayer::new().layer(Channel);
/// # drop(client);
/// ```
pub type GrpcClientService<S> = TracedService<S, GrpcClientLayer>;

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
