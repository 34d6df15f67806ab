//! The layers: [`ServerLayer`] (a server span per request, child of the caller's context from
//! the headers) and [`ClientLayer`] (a client span per outgoing request, its context injected).

use std::borrow::Cow;

use http::HeaderMap;

use super::attributes::{Method, describe_client, describe_server, route_of};
use super::classify::ResponseClassifier;
use super::service::{MakeSpan, TracedService, sealed};
use crate::redact::UrlRedaction;
use crate::span::{Parent, Span, SpanKind};

/// A tower layer that traces every request a server handles (axum, hyper, tonic-web, any
/// `tower::Service<http::Request<B>>`): a server span child of the caller's context from the
/// headers, named `{method} {route}` (the route from axum's `MatchedPath` with the `axum`
/// feature, else `{method}`), with the request's semantic-convention attributes. The span is
/// current while the handler runs (so `#[traced]` fns inside are its children) and ends when
/// the response body has been streamed. A 5xx response marks it failed; a 4xx does not (the
/// client's fault, not the server's).
///
/// With axum: `Router::new().route("/orders/{id}", get(order)).layer(ServerLayer::new())`
/// (with `Router::layer` it runs per route and sees the route; a layer outside the router sees
/// none and names spans `{method}`). Any tower HTTP service takes it the same way:
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{Ready, ready};
/// use std::task::{Context, Poll, Waker};
/// use tower_layer::Layer;
/// use tower_service::Service;
/// use traceweave::integrations::http::ServerLayer;
///
/// /// The application, as a tower service.
/// struct Orders;
///
/// impl Service<http::Request<String>> for Orders {
///     type Response = http::Response<String>;
///     type Error = Infallible;
///     type Future = Ready<Result<http::Response<String>, Infallible>>;
///
///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///
///     fn call(&mut self, _: http::Request<String>) -> Self::Future {
///         ready(Ok(http::Response::new("order 7".to_owned())))
///     }
/// }
///
/// let spans = traceweave::testing::capture(|| {
///     let mut service = ServerLayer::new().layer(Orders);
///     let request = http::Request::get("/orders/7")
///         .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
///         .body(String::new())
///         .unwrap();
///     let mut future = std::pin::pin!(service.call(request));
///     let Poll::Ready(response) = future.as_mut().poll(&mut Context::from_waker(Waker::noop()))
///     else {
///         unreachable!("the service answers at once")
///     };
///     drop(response); // the span ends when the body has been streamed (or dropped)
/// });
/// let span = spans.named("GET").unwrap();
/// // The caller's trace, continued:
/// assert_eq!(span.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
/// ```
#[derive(Debug, Clone, Default)]
pub struct ServerLayer {
    record_query: bool,
    redaction: UrlRedaction,
}

impl ServerLayer {
    /// The layer with the defaults: `url.query` not recorded.
    ///
    /// ```
    /// use traceweave::integrations::http::ServerLayer;
    /// // For axum: `Router::new().route(...).layer(ServerLayer::new())`.
    /// let layer = ServerLayer::new();
    /// # drop(layer);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `url.query` too (off by default: queries often carry tokens and personal data),
    /// with the values of sensitive parameters (`token`, `api_key`, signatures...: see
    /// [`UrlRedaction`]) replaced by `REDACTED`.
    ///
    /// ```
    /// use traceweave::integrations::http::ServerLayer;
    /// use traceweave::redact::UrlRedaction;
    ///
    /// let layer = ServerLayer::new()
    ///     .record_query(true)
    ///     .url_redaction(UrlRedaction::new().redact_key("session"));
    /// # let _ = layer;
    /// ```
    pub fn record_query(mut self, record: bool) -> Self {
        self.record_query = record;
        self
    }

    /// Which query values a recorded `url.query` keeps (default: [`UrlRedaction::new`]).
    ///
    /// ```
    /// use traceweave::integrations::http::ServerLayer;
    /// use traceweave::redact::UrlRedaction;
    /// let layer = ServerLayer::new()
    ///     .record_query(true)
    ///     .url_redaction(UrlRedaction::new().redact_key("invite"));
    /// # drop(layer);
    /// ```
    pub fn url_redaction(mut self, redaction: UrlRedaction) -> Self {
        self.redaction = redaction;
        self
    }
}

impl<S> tower_layer::Layer<S> for ServerLayer {
    type Service = TracedService<S, ServerLayer>;

    fn layer(&self, inner: S) -> Self::Service {
        TracedService::new(inner, self.clone())
    }
}

impl sealed::Sealed for ServerLayer {}

impl MakeSpan for ServerLayer {
    fn make_span<B>(&self, req: &mut http::Request<B>) -> (Span, ResponseClassifier) {
        let parent = crate::propagation::extract(req.headers());
        let method = Method::of(req.method());
        let route = route_of(req);
        let name = match &route {
            Some(route) => Cow::Owned(format!("{} {route}", method.span_name())),
            None => Cow::Borrowed(method.span_name()),
        };
        let mut span = crate::tracer::start(name, SpanKind::Server, Parent::Explicit(&parent));
        if span.is_recording() {
            let query = self.record_query.then_some(&self.redaction);
            describe_server(&mut span, req, &method, route, query);
        }
        (span, ResponseClassifier::HTTP_SERVER)
    }
}

/// The service [`ServerLayer`] makes.
///
/// ```
/// use tower_layer::Layer;
/// use traceweave::integrations::http::{ServerLayer, ServerService};
///
/// #[derive(Clone)]
/// struct App;
/// let service: ServerService<App> = ServerLayer::new().layer(App);
/// # drop(service);
/// ```
pub type ServerService<S> = TracedService<S, ServerLayer>;

/// A tower layer that traces every request a client sends (hyper-util's client, a tonic
/// `Channel`, any `tower::Service<http::Request<B>>`): a client span child of the current
/// context, named `{method}`, whose context is injected into the request headers in every
/// configured format; `url.full` (credentials and the values of sensitive query parameters
/// replaced by `REDACTED`: see [`UrlRedaction`]), `server.address`, `server.port`,
/// `http.response.status_code`, `error.type`. 4xx and 5xx mark it failed (client side); an
/// error's text reaches the span without any URL's query. The span ends when the response body
/// has been read.
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{Ready, ready};
/// use std::sync::{Arc, Mutex};
/// use std::task::{Context, Poll, Waker};
/// use tower_layer::Layer;
/// use tower_service::Service;
/// use traceweave::integrations::http::ClientLayer;
///
/// /// Stands in for an HTTP client (hyper's, for one): keeps the headers it was asked to send.
/// struct Client(Arc<Mutex<Option<http::HeaderMap>>>);
///
/// impl Service<http::Request<String>> for Client {
///     type Response = http::Response<String>;
///     type Error = Infallible;
///     type Future = Ready<Result<http::Response<String>, Infallible>>;
///
///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///
///     fn call(&mut self, request: http::Request<String>) -> Self::Future {
///         *self.0.lock().unwrap() = Some(request.headers().clone());
///         ready(Ok(http::Response::new(String::new())))
///     }
/// }
///
/// let sent = Arc::new(Mutex::new(None));
/// let spans = traceweave::testing::capture(|| {
///     let mut client = ClientLayer::new().layer(Client(sent.clone()));
///     let request = http::Request::get("https://api.example/orders?token=t0p").body(String::new()).unwrap();
///     let mut future = std::pin::pin!(client.call(request));
///     let _ = future.as_mut().poll(&mut Context::from_waker(Waker::noop()));
/// });
/// let span = spans.named("GET").unwrap();
/// // The callee continues this span's trace; the token never reaches the span.
/// let headers = sent.lock().unwrap().take().unwrap();
/// assert!(headers["traceparent"].to_str().unwrap().contains(&span.trace_id.to_string()));
/// assert_eq!(
///     span.attribute("url.full").and_then(|v| v.as_str()),
///     Some("https://api.example/orders?token=REDACTED")
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientLayer {
    redaction: UrlRedaction,
}

impl ClientLayer {
    /// The layer, redacting what [`UrlRedaction::new`] redacts.
    ///
    /// ```
    /// use traceweave::integrations::http::ClientLayer;
    /// let layer = ClientLayer::new();
    /// # drop(layer);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Which query values `url.full` keeps: more keys redacted, or the query in full.
    ///
    /// ```
    /// use traceweave::integrations::http::ClientLayer;
    /// use traceweave::redact::UrlRedaction;
    ///
    /// let layer = ClientLayer::new().url_redaction(UrlRedaction::new().redact_key("session"));
    /// # let _ = layer;
    /// ```
    pub fn url_redaction(mut self, redaction: UrlRedaction) -> Self {
        self.redaction = redaction;
        self
    }
}

impl<S> tower_layer::Layer<S> for ClientLayer {
    type Service = TracedService<S, ClientLayer>;

    fn layer(&self, inner: S) -> Self::Service {
        TracedService::new(inner, self.clone())
    }
}

impl sealed::Sealed for ClientLayer {}

impl MakeSpan for ClientLayer {
    fn make_span<B>(&self, req: &mut http::Request<B>) -> (Span, ResponseClassifier) {
        let method = Method::of(req.method());
        let address = sw8_address(
            req.uri().host(),
            req.uri().port_u16().or(match req.uri().scheme_str() {
                Some("https") => Some(443),
                _ => Some(80),
            }),
        );
        let mut span = client_span(&method, req.headers_mut(), address.as_deref());
        if span.is_recording() {
            describe_client(&mut span, req, &self.redaction);
        }
        (span, ResponseClassifier::HTTP_CLIENT)
    }
}

/// The service [`ClientLayer`] makes.
///
/// ```
/// use tower_layer::Layer;
/// use traceweave::integrations::http::{ClientLayer, ClientService};
///
/// #[derive(Clone)]
/// struct Hyper;
/// let client: ClientService<Hyper> = ClientLayer::new().layer(Hyper);
/// # drop(client);
/// ```
pub type ClientService<S> = TracedService<S, ClientLayer>;

/// The `host:port` a request goes to, for SkyWalking's `sw8` (only made while it is in use).
pub(crate) fn sw8_address(host: Option<&str>, port: Option<u16>) -> Option<String> {
    if !crate::context::sw8_endpoints() {
        return None;
    }
    let host = host?;
    Some(match port {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
}

/// Starts an HTTP client span (`{method}`, child of the current context) and injects its
/// context into the outgoing `headers` (naming `address` as where it goes, for the formats that
/// carry it); records the method.
pub(crate) fn client_span(method: &Method, headers: &mut HeaderMap, address: Option<&str>) -> Span {
    let mut span = crate::tracer::start(
        Cow::Borrowed(method.span_name()),
        SpanKind::Client,
        Parent::Current,
    );
    match address {
        Some(address) => crate::propagation::inject_context_to(&span.context(), headers, address),
        None => crate::propagation::inject_context(&span.context(), headers),
    }
    if span.is_recording() {
        method.record(&mut span);
    }
    span
}
