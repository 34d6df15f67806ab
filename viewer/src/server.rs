//! The HTTP side: OTLP/HTTP ingest and the web UI with its JSON API.
//!
//! Every request's cost is bounded by its size: bodies (and what gzip inflates them to) stop at
//! [`ReceiverOptions::max_body`], values are cut to [`IngestLimits`] as they are decoded, and
//! store work runs on blocking threads in chunks that hold the store's lock briefly. The UI
//! answers only to `Host` values naming loopback (or what `--allow-host` adds), so a page that
//! rebinds its DNS name to 127.0.0.1 reads nothing; its API sends no CORS header.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query as QueryParams, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::decode::{self, ContentEncoding, DecodeError, InflateError};
use crate::model::IngestLimits;
use crate::store::{Query, Store, StoreError, now_ns};
use crate::ui;

/// How the receiver reads requests.
#[derive(Clone, Copy, Debug)]
pub struct ReceiverOptions {
    /// The most bytes a body may hold, before and after gzip (default 16 MiB).
    pub max_body: usize,
    /// What one span may carry into the store.
    pub limits: IngestLimits,
}

impl Default for ReceiverOptions {
    fn default() -> Self {
        ReceiverOptions {
            max_body: 16 << 20,
            limits: IngestLimits::default(),
        }
    }
}

#[derive(Clone)]
struct Receiver {
    store: Arc<Store>,
    options: ReceiverOptions,
}

/// The receiver with the default options: see [`otlp_router_with`].
pub fn otlp_router(store: Arc<Store>) -> Router {
    otlp_router_with(store, ReceiverOptions::default())
}

/// The receiver: OTLP/HTTP `POST /v1/traces` (protobuf or JSON) and Zipkin's
/// `POST /api/v2/spans` (JSON), plain or gzip. CORS is open, so the OpenTelemetry JS SDK in a
/// browser page can export here too (a page can write spans, never read them: the UI's port
/// checks `Host` and sends no CORS header).
pub fn otlp_router_with(store: Arc<Store>, options: ReceiverOptions) -> Router {
    Router::new()
        .route("/v1/traces", post(ingest_otlp).options(preflight))
        .route("/api/v2/spans", post(ingest_zipkin).options(preflight))
        .layer(DefaultBodyLimit::max(options.max_body))
        .layer(axum::middleware::map_response(allow_any_origin))
        .with_state(Receiver { store, options })
}

async fn allow_any_origin(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    response
}

async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "content-type, content-encoding, authorization",
            ),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
    )
        .into_response()
}

/// The UI (`/`) and its JSON API (`/api/...`), answering loopback `Host`s only.
pub fn ui_router(store: Arc<Store>) -> Router {
    ui_router_with(store, Vec::new())
}

/// The UI, answering loopback `Host`s and those of `allow_hosts` (names or addresses, no
/// port: what `--allow-host` gives, and the address `--ui` binds when it is not loopback).
pub fn ui_router_with(store: Arc<Store>, allow_hosts: Vec<String>) -> Router {
    let allowed: Arc<[String]> = allow_hosts.into();
    Router::new()
        .route("/", get(|| async { Html(ui::page(None)) }))
        .route("/api/services", get(services))
        .route("/api/traces", get(traces))
        .route("/api/traces/{id}", get(trace))
        .route("/api/map", get(map))
        .route("/api/stats", get(stats))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let allowed = allowed.clone();
                async move { check_host(&allowed, req, next).await }
            },
        ))
        .with_state(store)
}

/// The host part of a `Host` header value (`[::1]:80` -> `::1`, `a.b:80` -> `a.b`).
fn host_name(value: &str) -> &str {
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match value.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => value,
    }
}

/// Whether the UI answers a request for `host` (a `Host` header value).
pub fn host_allowed(host: &str, allow_hosts: &[String]) -> bool {
    let name = host_name(host.trim());
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        || allow_hosts.iter().any(|a| a.eq_ignore_ascii_case(name))
}

async fn check_host(allowed: &[String], req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host());
    match host {
        Some(h) if host_allowed(h, allowed) => next.run(req).await,
        other => (
            StatusCode::FORBIDDEN,
            format!(
                "Host {:?} is not one this viewer answers to: it serves loopback names and \
                 addresses, and those given with --allow-host (a page on another site must not \
                 read your traces)",
                other.unwrap_or("")
            ),
        )
            .into_response(),
    }
}

/// Stops every server handed one of its [`Stop::signal`]s, gracefully (requests under way
/// finish).
#[derive(Debug)]
pub struct Stop(tokio::sync::watch::Sender<bool>);

impl Default for Stop {
    fn default() -> Self {
        Stop(tokio::sync::watch::channel(false).0)
    }
}

impl Stop {
    /// A future that completes once [`Stop::stop`] is called: the `shutdown` of [`serve`].
    pub fn signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.0.subscribe();
        async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }

    /// Tells every server holding this `Stop`'s signal to finish its requests and return.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn ingest_otlp(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    receive(r, headers, body, |body, json, limits| {
        Ok(if json {
            decode::otlp_json(&serde_json::from_slice(body)?, limits)?
        } else {
            decode::otlp_protobuf(body, limits)?
        })
    })
    .await
}

async fn ingest_zipkin(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    receive(r, headers, body, |body, json, limits| {
        if !json {
            return Err(IngestError::NotJson);
        }
        Ok(decode::zipkin(&serde_json::from_slice(body)?, limits)?)
    })
    .await
}

type Decoder = fn(&[u8], bool, &IngestLimits) -> Result<Vec<crate::SpanRow>, IngestError>;

/// Why a request's spans were not stored; each answers with its own HTTP status.
#[derive(Debug, thiserror::Error)]
enum IngestError {
    #[error("Content-Encoding {0:?} is not read here: send gzip, zstd or none")]
    Encoding(String),
    #[error(transparent)]
    Inflate(#[from] InflateError),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("only Zipkin v2 JSON is read here (Content-Type: application/json)")]
    NotJson,
    #[error("span store: {0}")]
    Store(#[from] StoreError),
}

impl IngestError {
    fn status(&self) -> StatusCode {
        match self {
            IngestError::Encoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::Inflate(InflateError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::Inflate(_)
            | IngestError::Json(_)
            | IngestError::Decode(_)
            | IngestError::NotJson => StatusCode::BAD_REQUEST,
            IngestError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        (self.status(), self.to_string()).into_response()
    }
}

/// Undoes gzip (no further than the body limit), decodes with `decode(body, is_json)`, stores;
/// the reply says what was wrong.
async fn receive(r: Receiver, headers: HeaderMap, body: Bytes, decode: Decoder) -> Response {
    let header = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let encoding = header(header::CONTENT_ENCODING);
    let encoding = match ContentEncoding::from_header(&encoding) {
        Ok(encoding) => encoding,
        Err(other) => return IngestError::Encoding(other.to_owned()).into_response(),
    };
    let json = header(header::CONTENT_TYPE).starts_with("application/json");
    let Receiver { store, options } = r;
    let outcome = tokio::task::spawn_blocking(move || {
        let body = match encoding {
            Some(encoding) => {
                std::borrow::Cow::Owned(decode::inflate(encoding, &body, options.max_body)?)
            }
            None => std::borrow::Cow::Borrowed(&body[..]),
        };
        let spans = decode(&body, json, &options.limits)?;
        drop(body);
        store.insert(&spans)?;
        Ok::<(), IngestError>(())
    })
    .await;
    match outcome {
        // An empty ExportTraceServiceResponse: zero bytes in protobuf, `{}` in JSON.
        Ok(Ok(())) if json => ([(header::CONTENT_TYPE, "application/json")], "{}").into_response(),
        Ok(Ok(())) => (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            Bytes::new(),
        )
            .into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Runs store work on a blocking thread: its value as JSON, `None` as 404, a failure as 500
/// with its reason.
async fn blocking<T: Serialize + Send + 'static>(
    work: impl FnOnce() -> Result<Option<T>, StoreError> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(Some(value))) => axum::Json(value).into_response(),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "no such trace").into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("span store: {e}"),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn services(State(store): State<Arc<Store>>) -> Response {
    axum::Json(store.services()).into_response()
}

async fn traces(State(store): State<Arc<Store>>, QueryParams(q): QueryParams<Query>) -> Response {
    blocking(move || store.search(&q).map(Some)).await
}

async fn trace(State(store): State<Arc<Store>>, Path(id): Path<String>) -> Response {
    blocking(move || Ok(Some(store.trace(&id)?).filter(|spans| !spans.is_empty()))).await
}

#[derive(Deserialize)]
struct MapParams {
    /// The last this many seconds (default 900); 0 for everything stored.
    window_s: Option<i64>,
    from_ns: Option<i64>,
    to_ns: Option<i64>,
}

async fn map(State(store): State<Arc<Store>>, QueryParams(p): QueryParams<MapParams>) -> Response {
    blocking(move || {
        let (from, to) = match (p.from_ns, p.to_ns, p.window_s.unwrap_or(900)) {
            (Some(from), Some(to), _) => (from, to),
            (_, _, 0) => match store.time_range()? {
                Some((from, to)) => (from, to.saturating_add(1)),
                None => (0, 1),
            },
            (_, _, window) => {
                let now = now_ns();
                (
                    now.saturating_sub(window.saturating_mul(1_000_000_000)),
                    now.saturating_add(1),
                )
            }
        };
        store.service_map(from, to).map(Some)
    })
    .await
}

async fn stats(State(store): State<Arc<Store>>) -> Response {
    axum::Json(serde_json::json!({
        "spans": store.span_count(),
        "bytes": store.byte_count(),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_naming_loopback_or_allowed_only() {
        for ok in [
            "localhost",
            "localhost:16686",
            "LOCALHOST.",
            "app.localhost:1",
            "127.0.0.1:16686",
            "127.9.9.9",
            "[::1]:16686",
            "viewer.lan:80",
        ] {
            assert!(host_allowed(ok, &["viewer.lan".into()]), "{ok}");
        }
        for bad in [
            "evil.example:16686",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:16686",
            "",
            "[::2]",
        ] {
            assert!(!host_allowed(bad, &["viewer.lan".into()]), "{bad}");
        }
    }
}
