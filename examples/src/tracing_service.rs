//! A service that already uses `tracing` and `log` adopts traceweave: tower-http's `TraceLayer`
//! opens a `tracing` span per request, a `#[traced]` business function runs inside it and logs
//! through both `tracing` and `log`. One trace holds the framework's span and ours, and every
//! log line carries its trace id.
//!
//! `cargo run -p traceweave-examples --features tracing-service --bin tracing_service`
//! (set `OTEL_EXPORTER_OTLP_ENDPOINT` to send it to a collector).

use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use traceweave::integrations::tracing::{WithTraceIds, layer};
use traceweave::traced;
use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// The business function: traced the traceweave way, logging the `tracing` and the `log` way.
#[traced(args(id))]
async fn load_order(id: u32) -> Result<String, String> {
    tracing::info!(id, "looking the order up");
    tokio::time::sleep(Duration::from_millis(3)).await;
    if id == 0 {
        log::warn!("order {id} does not exist");
        return Err(format!("no order {id}"));
    }
    log::info!("order {id} found in the cache");
    Ok(format!("order {id}: 2 items\n"))
}

async fn get_order(Path(id): Path<u32>) -> (http::StatusCode, String) {
    match load_order(id).await {
        Ok(body) => (http::StatusCode::OK, body),
        Err(e) => (http::StatusCode::NOT_FOUND, e),
    }
}

/// A `log` backend as simple as they come: what a service had before traceweave.
struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        eprintln!(
            "[log] {:<5} {}: {}",
            record.level(),
            record.target(),
            record.args()
        );
    }
    fn flush(&self) {}
}

/// A plain HTTP client (untraced: the caller is outside this service).
async fn request(
    addr: std::net::SocketAddr,
    path: &str,
) -> Result<http::StatusCode, Box<dyn std::error::Error>> {
    use hyper_util::client::legacy::Client;
    let client = Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = client.get(format!("http://{addr}{path}").parse()?).await?;
    Ok(response.status())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // traceweave's pipeline (console tree by default; OTEL_* variables choose otherwise)...
    let tracing_guard = traceweave::init();
    // ...under the subscriber the service already had: a filter and fmt, plus the layer.
    tracing_subscriber::registry()
        .with(Targets::new().with_default(LevelFilter::INFO))
        .with(layer())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .event_format(WithTraceIds::new(tracing_subscriber::fmt::format())),
        )
        .init();
    traceweave::integrations::log::init(Stderr, log::LevelFilter::Info)?;

    let app = Router::new().route("/orders/{id}", get(get_order)).layer(
        TraceLayer::new_for_http()
            .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
            .on_response(DefaultOnResponse::new().level(Level::INFO)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    for path in ["/orders/42", "/orders/0"] {
        let status = request(addr, path).await?;
        eprintln!("client: GET {path} -> {status}");
    }
    server.abort();
    // Flush: the console exporter prints each trace's tree.
    drop(tracing_guard);
    Ok(())
}
