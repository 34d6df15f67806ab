//! HTTP (the `http` crate's types, so axum, hyper, tower, reqwest and tonic-web alike):
//! header carriers, what `#[traced_rpc]` reads from an `http::Request`, how a handler's
//! response marks its span, and tower layers that trace every request of a server
//! ([`ServerLayer`]) or a client ([`ClientLayer`]).

use std::borrow::Cow;
use std::fmt::Display;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::__private::{Outcome, ViaEcosystem};
use crate::context::Context;
use crate::propagation::{Extractor, Injector, RpcCarrier};
use crate::redact::UrlRedaction;
use crate::semconv::attr;
use crate::span::{Key, Parent, Span, SpanKind, Status};

impl Extractor for HeaderMap {
    fn get(&self, key: &str) -> Option<&str> {
        HeaderMap::get(self, key).and_then(|v| v.to_str().ok())
    }

    fn get_all(&self, key: &str) -> Vec<&str> {
        HeaderMap::get_all(self, key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    fn keys(&self) -> Vec<String> {
        HeaderMap::keys(self)
            .map(|k| k.as_str().to_owned())
            .collect()
    }
}

impl Injector for HeaderMap {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.insert(name, value);
        }
    }
}

impl<B> Extractor for http::Request<B> {
    fn get(&self, key: &str) -> Option<&str> {
        Extractor::get(self.headers(), key)
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        Extractor::get_all(self.headers(), key)
    }
    fn keys(&self) -> Vec<String> {
        Extractor::keys(self.headers())
    }
}

impl<B> Injector for http::Request<B> {
    fn set(&mut self, key: &str, value: String) {
        Injector::set(self.headers_mut(), key, value)
    }
}

impl RpcCarrier for HeaderMap {
    fn parent_context(&self) -> Context {
        crate::propagation::extract(self)
    }
}

impl<B> RpcCarrier for http::Request<B> {
    fn parent_context(&self) -> Context {
        crate::propagation::extract(self.headers())
    }
    fn describe(&self, span: &mut Span) {
        span.set_attribute(attr::HTTP_REQUEST_METHOD, self.method().as_str().to_owned());
        span.set_attribute(attr::URL_PATH, self.uri().path().to_owned());
        if let Some(scheme) = self.uri().scheme_str() {
            span.set_attribute(attr::URL_SCHEME, scheme.to_owned());
        }
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
                    let text = super::error_text(span, e);
                    span.set_status(Status::error(text));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Layers: a server span per request, a client span per outgoing request.

/// A tower layer that traces every request a server handles (axum, hyper, tonic-web, any
/// `tower::Service<http::Request<B>>`): a server span child of the caller's context from the
/// headers, named `{method} {route}` (the route from axum's `MatchedPath` with the `axum`
/// feature, else `{method}`), with the request's semantic-convention attributes. The span is
/// current while the handler runs (so `#[traced]` fns inside are its children) and ends when
/// the response body has been streamed. A 5xx response marks it failed; a 4xx does not (the
/// client's fault, not the server's).
///
/// ```ignore
/// let app = axum::Router::new()
///     .route("/orders/{id}", get(order))
///     .layer(traceweave::integrations::http::ServerLayer::new());
/// ```
///
/// With axum, add it with `Router::layer` (it then runs per route and sees the route); a layer
/// outside the router sees no route and names spans `{method}`.
#[derive(Debug, Clone, Default)]
pub struct ServerLayer {
    record_query: bool,
    redaction: UrlRedaction,
}

impl ServerLayer {
    /// The layer with the defaults: `url.query` not recorded.
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

impl OpenSpan for ServerLayer {
    fn open<B>(&self, req: &mut http::Request<B>) -> (Span, Rules) {
        let parent = crate::propagation::extract(req.headers());
        let method = Method::of(req.method());
        let route = route_of(req);
        let name = match &route {
            Some(route) => Cow::Owned(format!("{} {route}", method.span_name())),
            None => Cow::Borrowed(method.span_name()),
        };
        let mut span = crate::span::start(name, SpanKind::Server, Parent::Explicit(&parent));
        if span.is_recording() {
            let query = self.record_query.then_some(&self.redaction);
            describe_server(&mut span, req, &method, route, query);
        }
        (span, Rules::Http(Side::Server))
    }
}

/// The service [`ServerLayer`] makes.
pub type ServerService<S> = TracedService<S, ServerLayer>;

/// A tower layer that traces every request a client sends (hyper-util's client, a tonic
/// `Channel`, any `tower::Service<http::Request<B>>`): a client span child of the current
/// context, named `{method}`, whose context is injected into the request headers in every
/// configured format; `url.full` (credentials and the values of sensitive query parameters
/// replaced by `REDACTED`: see [`UrlRedaction`]), `server.address`, `server.port`,
/// `http.response.status_code`, `error.type`. 4xx and 5xx mark it failed (client side); an
/// error's text reaches the span without any URL's query. The span ends when the response body
/// has been read.
#[derive(Debug, Clone, Default)]
pub struct ClientLayer {
    redaction: UrlRedaction,
}

impl ClientLayer {
    /// The layer, redacting what [`UrlRedaction::new`] redacts.
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

impl OpenSpan for ClientLayer {
    fn open<B>(&self, req: &mut http::Request<B>) -> (Span, Rules) {
        let method = Method::of(req.method());
        let mut span = client_span(&method, req.headers_mut());
        if span.is_recording() {
            describe_client(&mut span, req, &self.redaction);
        }
        (span, Rules::Http(Side::Client))
    }
}

/// The service [`ClientLayer`] makes.
pub type ClientService<S> = TracedService<S, ClientLayer>;

/// How a layer opens the span of a request (and prepares the request: injection, extensions),
/// and how the response then marks it.
#[doc(hidden)]
pub trait OpenSpan {
    /// Opens the span of `req`.
    #[doc(hidden)]
    fn open<B>(&self, req: &mut http::Request<B>) -> (Span, Rules);
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
    L: OpenSpan,
    RB: http_body::Body,
{
    type Response = http::Response<TracedBody<RB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let (mut span, rules) = self.how.open(&mut req);
        let ctx = span.attach_context();
        let inner = span.run_in(ctx.as_ref(), || self.inner.call(req));
        ResponseFuture::new(inner, span, ctx, rules)
    }
}

/// Starts an HTTP client span (`{method}`, child of the current context) and injects its
/// context into the outgoing `headers`; records the method.
pub(crate) fn client_span(method: &Method, headers: &mut HeaderMap) -> Span {
    let mut span = crate::span::start(
        Cow::Borrowed(method.span_name()),
        SpanKind::Client,
        Parent::Current,
    );
    crate::propagation::inject_context(&span.context(), headers);
    if span.is_recording() {
        method.record(&mut span);
    }
    span
}

/// Whose span: a server fails on 5xx only, a client on 4xx too.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Server,
    Client,
}

/// How a response marks its span.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Rules {
    /// By its HTTP status.
    Http(Side),
    /// By a status another protocol sends in the headers or the trailers (gRPC's
    /// `grpc-status`): the function records it from either and says whether it found one.
    #[cfg_attr(not(feature = "tonic"), allow(dead_code))]
    Trailers(fn(&mut Span, &HeaderMap) -> bool),
}

/// A span still open, with the context to make current while its work is polled.
#[derive(Debug)]
struct Open {
    span: Span,
    ctx: Option<Context>,
    rules: Rules,
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
    pub(crate) fn new(inner: F, span: Span, ctx: Option<Context>, rules: Rules) -> Self {
        ResponseFuture {
            inner,
            state: Some(Open { span, ctx, rules }),
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
                    match open.rules {
                        Rules::Http(side) => {
                            record_response(&mut open.span, response.status(), side)
                        }
                        // A trailers-only response carries the status in its headers.
                        Rules::Trailers(record) => {
                            record(&mut open.span, response.headers());
                        }
                    }
                }
                Ok(response.map(|body| TracedBody {
                    inner: body,
                    state: open,
                }))
            }
            Err(e) => {
                if let Some(mut open) = open {
                    super::record_failure(&mut open.span, &e);
                }
                Err(e)
            }
        })
    }
}

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
                if let (Some(trailers), Some(open)) = (frame.trailers_ref(), this.state.as_mut())
                    && let Rules::Trailers(record) = open.rules
                {
                    record(&mut open.span, trailers);
                }
            }
            Poll::Ready(None) => *this.state = None,
            Poll::Ready(Some(Err(_))) => {
                if let Some(mut open) = this.state.take()
                    && open.span.is_recording()
                {
                    open.span
                        .set_attribute(attr::ERROR_TYPE, super::error_type::<B::Error>());
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

/// A request method as the conventions record it: the nine known ones as they are, anything
/// else `_OTHER` (with the original kept beside it).
pub(crate) struct Method {
    known: Option<&'static str>,
    original: String,
}

impl Method {
    pub(crate) fn of(method: &http::Method) -> Method {
        let known = [
            http::Method::GET,
            http::Method::HEAD,
            http::Method::POST,
            http::Method::PUT,
            http::Method::DELETE,
            http::Method::CONNECT,
            http::Method::OPTIONS,
            http::Method::TRACE,
            http::Method::PATCH,
        ]
        .into_iter()
        .find(|m| m == method)
        .map(|m| match m {
            http::Method::GET => "GET",
            http::Method::HEAD => "HEAD",
            http::Method::POST => "POST",
            http::Method::PUT => "PUT",
            http::Method::DELETE => "DELETE",
            http::Method::CONNECT => "CONNECT",
            http::Method::OPTIONS => "OPTIONS",
            http::Method::TRACE => "TRACE",
            _ => "PATCH",
        });
        Method {
            known,
            original: if known.is_some() {
                String::new()
            } else {
                method.as_str().to_owned()
            },
        }
    }

    /// The attribute value: the method, or `_OTHER`.
    fn value(&self) -> &'static str {
        self.known.unwrap_or("_OTHER")
    }

    /// The span name's method part (`HTTP` for an unknown one).
    pub(crate) fn span_name(&self) -> &'static str {
        self.known.unwrap_or("HTTP")
    }

    pub(crate) fn record(&self, span: &mut Span) {
        span.set_attribute(attr::HTTP_REQUEST_METHOD, self.value());
        if self.known.is_none() {
            span.set_attribute(attr::HTTP_REQUEST_METHOD_ORIGINAL, self.original.clone());
        }
    }
}

/// The route template axum matched (`/orders/{id}`), when the `axum` feature is on.
fn route_of<B>(req: &http::Request<B>) -> Option<String> {
    #[cfg(feature = "axum")]
    if let Some(path) = req.extensions().get::<axum::extract::MatchedPath>() {
        return Some(path.as_str().to_owned());
    }
    let _ = req;
    None
}

pub(crate) fn protocol_version(version: http::Version) -> Option<&'static str> {
    Some(match version {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_11 => "1.1",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// `host[:port]` split, IPv6 brackets removed.
fn host_and_port(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (authority, None),
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

fn describe_server<B>(
    span: &mut Span,
    req: &http::Request<B>,
    method: &Method,
    route: Option<String>,
    query_redaction: Option<&UrlRedaction>,
) {
    method.record(span);
    let uri = req.uri();
    let scheme = uri.scheme_str().unwrap_or("http");
    span.set_attribute(attr::URL_SCHEME, scheme.to_owned());
    span.set_attribute(attr::URL_PATH, uri.path().to_owned());
    if let Some(redaction) = query_redaction
        && let Some(query) = uri.query()
    {
        span.set_attribute(attr::URL_QUERY, redaction.query(query).into_owned());
    }
    if let Some(route) = route {
        span.set_attribute(attr::HTTP_ROUTE, route);
    }
    // HTTP/2 carries the authority in the URI, HTTP/1.1 in `Host`.
    let authority = uri.authority().map(|a| a.as_str()).or_else(|| {
        req.headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
    });
    if let Some(authority) = authority {
        let (host, port) = host_and_port(authority);
        if !host.is_empty() {
            span.set_attribute(attr::SERVER_ADDRESS, host.to_owned());
        }
        if let Some(port) = port.or_else(|| default_port(scheme)) {
            span.set_attribute(attr::SERVER_PORT, i64::from(port));
        }
    }
    if let Some(client) = client_address(req) {
        span.set_attribute(attr::CLIENT_ADDRESS, client);
    }
    if let Some(version) = protocol_version(req.version()) {
        span.set_attribute(attr::NETWORK_PROTOCOL_VERSION, version);
    }
    if let Some(agent) = req
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|h| h.to_str().ok())
    {
        span.set_attribute(attr::USER_AGENT_ORIGINAL, agent.to_owned());
    }
}

/// The original client: the first hop of `Forwarded` / `X-Forwarded-For` when a proxy set
/// them, else the peer address axum's `ConnectInfo` saw.
fn client_address<B>(req: &http::Request<B>) -> Option<String> {
    let headers = req.headers();
    if let Some(forwarded) = headers
        .get(http::header::FORWARDED)
        .and_then(|h| h.to_str().ok())
    {
        let first = forwarded.split(',').next().unwrap_or_default();
        for pair in first.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k.eq_ignore_ascii_case("for")
            {
                let v = v.trim_matches('"');
                let (host, _) = host_and_port(v);
                return Some(host.to_owned());
            }
        }
    }
    if let Some(xff) = headers.get("x-forwarded-for").and_then(|h| h.to_str().ok())
        && let Some(first) = xff.split(',').next().map(str::trim)
        && !first.is_empty()
    {
        return Some(first.to_owned());
    }
    #[cfg(feature = "axum")]
    if let Some(info) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        return Some(info.0.ip().to_string());
    }
    None
}

fn describe_client<B>(span: &mut Span, req: &http::Request<B>, redaction: &UrlRedaction) {
    let uri = req.uri();
    span.set_attribute(attr::URL_FULL, redaction.url(&uri.to_string()).into_owned());
    record_server(
        span,
        uri.host(),
        uri.port_u16()
            .or_else(|| uri.scheme_str().and_then(default_port)),
    );
    if let Some(version) = protocol_version(req.version()) {
        span.set_attribute(attr::NETWORK_PROTOCOL_VERSION, version);
    }
}

/// `server.address` (IPv6 brackets removed) and `server.port` of a client span.
pub(crate) fn record_server(span: &mut Span, host: Option<&str>, port: Option<u16>) {
    if let Some(host) = host {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        span.set_attribute(attr::SERVER_ADDRESS, host.to_owned());
    }
    if let Some(port) = port {
        span.set_attribute(attr::SERVER_PORT, i64::from(port));
    }
}

pub(crate) fn record_response(span: &mut Span, status: http::StatusCode, side: Side) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(host_and_port("shop.local:8080"), ("shop.local", Some(8080)));
        assert_eq!(host_and_port("shop.local"), ("shop.local", None));
        assert_eq!(host_and_port("[::1]:9000"), ("::1", Some(9000)));
        assert_eq!(host_and_port("[::1]"), ("::1", None));
        assert_eq!(host_and_port("::1"), ("::1", None));
    }

    #[test]
    fn unknown_methods_are_other() {
        let m = Method::of(&http::Method::from_bytes(b"PURGE").unwrap());
        assert_eq!((m.value(), m.span_name()), ("_OTHER", "HTTP"));
        assert_eq!(m.original, "PURGE");
        let m = Method::of(&http::Method::PATCH);
        assert_eq!((m.value(), m.span_name()), ("PATCH", "PATCH"));
    }
}
