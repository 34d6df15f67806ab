//! Over real sockets: a Python client using the OpenTelemetry SDK calls an axum handler
//! annotated with `#[traced_rpc]`, which calls a tonic service (also `#[traced_rpc]`) through a
//! client span that injects. Our exported spans form one trace whose root is the Python span;
//! baggage set in Python arrives in the gRPC handler; a gRPC error status fails the client span
//! (the server's only on server-fault codes) and the HTTP 5xx it causes the HTTP span.

use std::time::Duration;

use axum::extract::State;
use http::{HeaderMap, StatusCode};
use tonic::transport::{Channel, Server};
use tonic::{Request, Response};
use traceweave::{Context, InMemoryExporter, SpanKind, traced, traced_rpc};
use traceweave_tests::inventory::inventory_client::InventoryClient;
use traceweave_tests::inventory::inventory_server::{Inventory, InventoryServer};
use traceweave_tests::inventory::{ReserveReply, ReserveRequest};

struct Stock;

#[tonic::async_trait]
impl Inventory for Stock {
    #[traced_rpc]
    async fn reserve(
        &self,
        request: Request<ReserveRequest>,
    ) -> Result<Response<ReserveReply>, tonic::Status> {
        let r = request.into_inner();
        if r.quantity > 10 {
            return Err(tonic::Status::resource_exhausted("not enough stock"));
        }
        let tenant = Context::current()
            .baggage()
            .get("tenant")
            .unwrap_or("-")
            .to_owned();
        Ok(Response::new(ReserveReply {
            reserved: true,
            reservation_id: format!("res-{}-tenant={tenant}", r.sku),
        }))
    }
}

#[traced(kind = client, name = "shop.inventory.v1.Inventory/Reserve", args(quantity))]
async fn reserve(
    client: &mut InventoryClient<Channel>,
    quantity: u32,
) -> Result<ReserveReply, tonic::Status> {
    let mut request = Request::new(ReserveRequest {
        sku: "book".into(),
        quantity,
    });
    traceweave::inject(request.metadata_mut());
    Ok(client.reserve(request).await?.into_inner())
}

#[traced_rpc(
    name = "POST /checkout/{quantity}",
    attrs(http.request.method = "POST", http.route = "/checkout/{quantity}")
)]
async fn checkout(
    State(grpc): State<String>,
    axum::extract::Path(quantity): axum::extract::Path<u32>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    let _ = &headers;
    let mut client = match InventoryClient::connect(grpc).await {
        Ok(c) => c,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    match reserve(&mut client, quantity).await {
        Ok(reply) => (StatusCode::OK, reply.reservation_id),
        Err(status) => (StatusCode::BAD_GATEWAY, status.message().to_owned()),
    }
}

fn python_client(py: &std::path::Path, url: &str) -> serde_json::Value {
    traceweave_tests::peer(py, "http_client.py", &[url])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_to_axum_to_tonic_is_one_trace() {
    let Some(py) = traceweave_tests::python() else {
        return;
    };
    let memory = InMemoryExporter::new();
    let _tracing = traceweave::builder()
        .ignore_env()
        .service_name("e2e-shop")
        .schedule_delay(Duration::from_millis(50))
        .exporter(memory.clone())
        .install()
        .unwrap();

    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_addr = grpc_listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .layer(traceweave::integrations::tonic::GrpcMethodLayer)
            .add_service(InventoryServer::new(Stock))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(
                grpc_listener,
            )),
    );
    let app = axum::Router::new()
        .route("/checkout/{quantity}", axum::routing::post(checkout))
        .with_state(format!("http://{grpc_addr}"));
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = http_listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(http_listener, app).await });

    let ok = {
        let (py, url) = (py.clone(), format!("http://{http_addr}/checkout/2"));
        tokio::task::spawn_blocking(move || python_client(&py, &url))
            .await
            .unwrap()
    };
    assert_eq!(ok["status"], 200, "{ok}");
    assert_eq!(
        ok["body"], "res-book-tenant=acme",
        "baggage crossed HTTP and gRPC: {ok}"
    );
    let failed = {
        let (py, url) = (py.clone(), format!("http://{http_addr}/checkout/50"));
        tokio::task::spawn_blocking(move || python_client(&py, &url))
            .await
            .unwrap()
    };
    assert_eq!(failed["status"], 502, "{failed}");

    assert!(traceweave::force_flush().is_ok());
    let spans = memory.spans();
    for run in [&ok, &failed] {
        let trace_id = run["trace_id"].as_str().unwrap();
        let mine: Vec<_> = spans
            .iter()
            .filter(|s| s.trace_id.to_string() == trace_id)
            .collect();
        assert_eq!(
            mine.len(),
            3,
            "{}",
            traceweave::testing::Spans(spans.clone()).tree()
        );
        let http = mine
            .iter()
            .find(|s| s.kind == SpanKind::Server && s.name.starts_with("POST"))
            .unwrap();
        let client = mine.iter().find(|s| s.kind == SpanKind::Client).unwrap();
        let grpc = mine.iter().find(|s| s.name == "reserve").unwrap();
        // The Python span is the root: our HTTP server span is its remote child.
        assert_eq!(
            http.parent_span_id.to_string(),
            run["span_id"].as_str().unwrap()
        );
        assert!(http.parent_is_remote);
        // A HeaderMap carrier knows no method or path; the annotation named them.
        assert_eq!(
            http.attribute("http.route").unwrap().as_str(),
            Some("/checkout/{quantity}")
        );
        assert_eq!(client.parent_span_id, http.span_id);
        assert!(!client.parent_is_remote);
        assert_eq!(grpc.parent_span_id, client.span_id);
        assert!(grpc.parent_is_remote);
        assert_eq!(grpc.kind, SpanKind::Server);
        assert_eq!(grpc.attribute("rpc.system").unwrap().as_str(), Some("grpc"));
        assert_eq!(
            grpc.attribute("rpc.service").unwrap().as_str(),
            Some("shop.inventory.v1.Inventory")
        );
        assert_eq!(
            grpc.attribute("rpc.method").unwrap().as_str(),
            Some("Reserve")
        );
        let failed_run = std::ptr::eq(run, &failed);
        // RESOURCE_EXHAUSTED is the caller's problem, not the server's: the server span stays
        // unfailed (the conventions' server rule), the client span fails on any code but OK.
        assert!(!grpc.status.is_error());
        assert_eq!(
            grpc.attribute("rpc.grpc.status_code").unwrap().as_i64(),
            Some(if failed_run { 8 } else { 0 })
        );
        assert_eq!(client.status.is_error(), failed_run);
        assert_eq!(
            http.status.is_error(),
            failed_run,
            "a 502 marks the HTTP span failed"
        );
    }
}
