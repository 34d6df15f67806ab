//! The HTTP side: OTLP/HTTP ingest and the web UI with its JSON API.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query as QueryParams, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::decode;
use crate::store::{Query, Store, now_ns};
use crate::ui;

/// The receiver: OTLP/HTTP `POST /v1/traces` (protobuf or JSON) and Zipkin's
/// `POST /api/v2/spans` (JSON), plain or gzip, bodies up to 64 MiB. CORS is open, so the
/// OpenTelemetry JS SDK in a browser page can export here too.
pub fn otlp_router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/v1/traces", post(ingest_otlp).options(preflight))
        .route("/api/v2/spans", post(ingest_zipkin).options(preflight))
        .layer(DefaultBodyLimit::max(64 << 20))
        .layer(axum::middleware::map_response(allow_any_origin))
        .with_state(store)
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

/// The UI (`/`) and its JSON API (`/api/...`).
pub fn ui_router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/", get(|| async { Html(ui::page(None)) }))
        .route("/api/services", get(services))
        .route("/api/traces", get(traces))
        .route("/api/traces/{id}", get(trace))
        .route("/api/map", get(map))
        .route("/api/stats", get(stats))
        .with_state(store)
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

async fn ingest_otlp(State(store): State<Arc<Store>>, headers: HeaderMap, body: Bytes) -> Response {
    receive(store, headers, body, |body, json| {
        if json {
            serde_json::from_slice(body)
                .map_err(|e| e.to_string())
                .and_then(|v| decode::otlp_json(&v).map_err(|e| e.to_string()))
        } else {
            decode::otlp_protobuf(body).map_err(|e| e.to_string())
        }
    })
    .await
}

async fn ingest_zipkin(
    State(store): State<Arc<Store>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(store, headers, body, |body, json| {
        if !json {
            return Err("only Zipkin v2 JSON is read here (Content-Type: application/json)".into());
        }
        serde_json::from_slice(body)
            .map_err(|e| e.to_string())
            .and_then(|v| decode::zipkin(&v).map_err(|e| e.to_string()))
    })
    .await
}

/// Undoes gzip, decodes with `decode(body, is_json)`, stores; the reply says what was wrong.
async fn receive(
    store: Arc<Store>,
    headers: HeaderMap,
    body: Bytes,
    decode: fn(&[u8], bool) -> Result<Vec<crate::SpanRow>, String>,
) -> Response {
    let header_is = |name: header::HeaderName, value: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with(value))
    };
    let gzip = header_is(header::CONTENT_ENCODING, "gzip");
    let json = header_is(header::CONTENT_TYPE, "application/json");
    let result = tokio::task::spawn_blocking(move || {
        let body = if gzip {
            decode::gunzip(&body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?
        } else {
            body.to_vec()
        };
        let spans = decode(&body, json).map_err(|e| (StatusCode::BAD_REQUEST, e))?;
        store.insert(&spans).map_err(|e| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("span store: {e}"),
            )
        })
    })
    .await;
    match result {
        // An empty ExportTraceServiceResponse: zero bytes in protobuf, `{}` in JSON.
        Ok(Ok(())) if json => ([(header::CONTENT_TYPE, "application/json")], "{}").into_response(),
        Ok(Ok(())) => (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            Bytes::new(),
        )
            .into_response(),
        Ok(Err((status, message))) => (status, message).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn store_error(e: impl std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}

async fn services(State(store): State<Arc<Store>>) -> Response {
    match store.services() {
        Ok(s) => axum::Json(s).into_response(),
        Err(e) => store_error(e),
    }
}

async fn traces(State(store): State<Arc<Store>>, QueryParams(q): QueryParams<Query>) -> Response {
    match tokio::task::spawn_blocking(move || store.search(&q)).await {
        Ok(Ok(t)) => axum::Json(t).into_response(),
        Ok(Err(e)) => store_error(e),
        Err(e) => store_error(e),
    }
}

async fn trace(State(store): State<Arc<Store>>, Path(id): Path<String>) -> Response {
    match tokio::task::spawn_blocking(move || store.trace(&id)).await {
        Ok(Ok(spans)) if spans.is_empty() => {
            (StatusCode::NOT_FOUND, "no such trace").into_response()
        }
        Ok(Ok(spans)) => axum::Json(spans).into_response(),
        Ok(Err(e)) => store_error(e),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
struct MapParams {
    /// The last this many seconds (default 900); 0 for everything stored.
    window_s: Option<i64>,
    from_ns: Option<i64>,
    to_ns: Option<i64>,
}

async fn map(State(store): State<Arc<Store>>, QueryParams(p): QueryParams<MapParams>) -> Response {
    let result = tokio::task::spawn_blocking(move || {
        let (from, to) = match (p.from_ns, p.to_ns, p.window_s.unwrap_or(900)) {
            (Some(from), Some(to), _) => (from, to),
            (_, _, 0) => match store.time_range()? {
                Some((from, to)) => (from, to + 1),
                None => (0, 1),
            },
            (_, _, window) => {
                let now = now_ns();
                (now - window.saturating_mul(1_000_000_000), now + 1)
            }
        };
        store.service_map(from, to)
    })
    .await;
    match result {
        Ok(Ok(m)) => axum::Json(m).into_response(),
        Ok(Err(e)) => store_error(e),
        Err(e) => store_error(e),
    }
}

async fn stats(State(store): State<Arc<Store>>) -> Response {
    axum::Json(serde_json::json!({ "spans": store.span_count() })).into_response()
}
