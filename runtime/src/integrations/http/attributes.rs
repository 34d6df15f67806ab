//! The semantic conventions' HTTP attributes: the method, route, URL, server and client
//! addresses, protocol version and user agent of a request.

use crate::redact::UrlRedaction;
use crate::semconv::attr;
use crate::span::Span;

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
pub(super) fn route_of<B>(req: &http::Request<B>) -> Option<String> {
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

pub(super) fn describe_server<B>(
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

pub(super) fn describe_client<B>(
    span: &mut Span,
    req: &http::Request<B>,
    redaction: &UrlRedaction,
) {
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
