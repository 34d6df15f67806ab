//! A service instrumented with Apache's `skywalking` crate (the Rust agent of SkyWalking) and a
//! traceweave service call each other over HTTP and gRPC with `sw8`, both reporting to a receiver
//! built on SkyWalking's official protocol definitions (`tests/peers/skywalking_oap.py`). What
//! the OAP needs to join them is checked on what it received: one trace id across the services,
//! every reference naming a reported segment and span, every exit span answered by exactly one
//! entry span in the other service (its peer is the address the entry's reference names), the
//! endpoints the references name being entry spans of the caller, the tokens on every call, and
//! traceweave's instance properties and keep-alives.
//!
//! Needs `protoc` for the `skywalking` crate's build script (Debian's `protobuf-compiler`):
//! `cargo test -p traceweave-tests --features skywalking-peer --test skywalking_rust_peer`.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use skywalking::reporter::grpc::GrpcReporter;
use skywalking::trace::propagation::decoder::decode_propagation;
use skywalking::trace::propagation::encoder::encode_propagation;
use skywalking::trace::tracer::Tracer as SwTracer;
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};
use tower::Layer;
use traceweave::export::SkyWalkingExporter;
use traceweave::integrations::http::{ClientLayer, ServerLayer};
use traceweave::integrations::tonic::{GrpcClientLayer, GrpcServerLayer};
use traceweave::traced;
use traceweave_tests::inventory::inventory_client::InventoryClient;
use traceweave_tests::inventory::inventory_server::{Inventory, InventoryServer};
use traceweave_tests::inventory::{ReserveReply, ReserveRequest};

use traceweave_tests::skywalking_oap::{Oap, check_joins};
use traceweave_tests::{HttpClient, http_client};

/// GET `url` with these headers; the status.
async fn get(client: &HttpClient, url: &str, headers: &[(&str, String)]) -> u16 {
    let mut req = http::Request::get(url);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = client
        .request(req.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    status
}

/// The skywalking-crate service's side.
#[derive(Clone)]
struct SwService {
    tracer: SwTracer,
}

impl SwService {
    /// An entry span continuing the caller's `sw8`.
    fn entry(&self, op: &str, sw8: Option<&str>) {
        let mut ctx = self.tracer.create_trace_context();
        let prop = decode_propagation(sw8.expect("the caller sent sw8")).expect("a valid sw8");
        let _span = ctx.create_entry_span_with_propagation(op, &prop);
    }
}

#[tonic::async_trait]
impl Inventory for SwService {
    async fn reserve(
        &self,
        request: Request<ReserveRequest>,
    ) -> Result<Response<ReserveReply>, Status> {
        let sw8 = request.metadata().get("sw8").and_then(|v| v.to_str().ok());
        self.entry("shop.inventory.v1.Inventory/Reserve", sw8);
        Ok(Response::new(ReserveReply {
            reserved: true,
            reservation_id: "sw".into(),
        }))
    }
}

/// traceweave's gRPC service: its server span comes from `GrpcServerLayer`.
struct TwInventory;

#[traced]
fn reserve_stock(quantity: u32) -> bool {
    quantity < 10
}

#[tonic::async_trait]
impl Inventory for TwInventory {
    async fn reserve(
        &self,
        request: Request<ReserveRequest>,
    ) -> Result<Response<ReserveReply>, Status> {
        let reserved = reserve_stock(request.into_inner().quantity);
        Ok(Response::new(ReserveReply {
            reserved,
            reservation_id: "tw".into(),
        }))
    }
}

/// Where everything listens.
#[derive(Clone, Copy)]
struct Ports {
    sw_http: u16,
    sw_grpc: u16,
    tw_http: u16,
    tw_grpc: u16,
}

/// traceweave calls the skywalking-crate service: HTTP through `ClientLayer`, gRPC through
/// `GrpcClientLayer`, both inside the current span.
async fn tw_calls_sw(ports: Ports) {
    let client = ClientLayer::new().layer(http_client());
    let req = http::Request::get(format!("http://127.0.0.1:{}/back", ports.sw_http))
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = tower::ServiceExt::oneshot(client, req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{}", ports.sw_grpc)).unwrap();
    let channel = endpoint.connect().await.unwrap();
    let mut grpc = InventoryClient::new(GrpcClientLayer::to(endpoint.uri()).layer(channel));
    let reply = grpc
        .reserve(ReserveRequest {
            sku: "book".into(),
            quantity: 1,
        })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().reservation_id, "sw");
}

/// A trace that starts in traceweave (the reverse direction).
#[traced(root, kind = internal)]
async fn tw_job(ports: Ports) -> traceweave::TraceId {
    tw_calls_sw(ports).await;
    traceweave::current_ids().unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skywalking_crate_service_and_a_traceweave_service_join_in_one_skywalking_trace() {
    let Some(py) = traceweave_tests::python() else {
        return;
    };
    let oap = Oap::start(&py);
    let listener = |_: ()| std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (sw_http, sw_grpc, tw_http, tw_grpc) =
        (listener(()), listener(()), listener(()), listener(()));
    let port = |l: &std::net::TcpListener| l.local_addr().unwrap().port();
    let ports = Ports {
        sw_http: port(&sw_http),
        sw_grpc: port(&sw_grpc),
        tw_http: port(&tw_http),
        tw_grpc: port(&tw_grpc),
    };

    // traceweave: the global tracer, reporting to the OAP; `sw8` joins the default propagators.
    let guard = traceweave::builder()
        .ignore_env()
        .service_name("tw-orders")
        .schedule_delay(Duration::from_millis(20))
        .exporter(
            SkyWalkingExporter::new(&format!("127.0.0.1:{}", oap.grpc))
                .authentication("tw-token")
                .heartbeat_period(Duration::from_secs(1)),
        )
        .install()
        .unwrap();

    // The skywalking crate: its gRPC reporter to the same OAP, with its own token.
    let reporter = GrpcReporter::connect(format!("http://127.0.0.1:{}", oap.grpc))
        .await
        .unwrap()
        .with_authentication("sw-token");
    let (stop_sw, sw_stopped) = tokio::sync::oneshot::channel::<()>();
    let sw_reporting = reporter
        .reporting()
        .await
        .with_graceful_shutdown(async move {
            let _ = sw_stopped.await;
        })
        .spawn();
    let sw = SwService {
        tracer: SwTracer::new("rust-sw", "rust-sw-1", reporter),
    };

    // The skywalking-crate service: /back over HTTP, Inventory over gRPC.
    let back = {
        let sw = sw.clone();
        axum::Router::new().route(
            "/back",
            axum::routing::get(move |headers: http::HeaderMap| {
                let sw = sw.clone();
                async move {
                    sw.entry("/back", headers.get("sw8").and_then(|v| v.to_str().ok()));
                    "ok"
                }
            }),
        )
    };
    sw_http.set_nonblocking(true).unwrap();
    tokio::spawn(
        axum::serve(tokio::net::TcpListener::from_std(sw_http).unwrap(), back).into_future(),
    );
    sw_grpc.set_nonblocking(true).unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(InventoryServer::new(sw.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(
                tokio::net::TcpListener::from_std(sw_grpc).unwrap(),
            )),
    );

    // The traceweave service: /tw over HTTP (it calls back), Inventory over gRPC.
    let tw = axum::Router::new()
        .route(
            "/tw",
            axum::routing::get(move || async move {
                tw_calls_sw(ports).await;
                "ok"
            }),
        )
        .layer(ServerLayer::new());
    tw_http.set_nonblocking(true).unwrap();
    tokio::spawn(
        axum::serve(tokio::net::TcpListener::from_std(tw_http).unwrap(), tw).into_future(),
    );
    tw_grpc.set_nonblocking(true).unwrap();
    tokio::spawn(
        Server::builder()
            .layer(GrpcServerLayer)
            .add_service(InventoryServer::new(TwInventory))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(
                tokio::net::TcpListener::from_std(tw_grpc).unwrap(),
            )),
    );

    // 1. A trace that starts in the skywalking-crate service: /start calls traceweave over HTTP
    //    (which calls back over HTTP and gRPC) and over gRPC.
    let sw_trace = {
        let mut ctx = sw.tracer.create_trace_context();
        let trace_id = ctx.trace_id().to_owned();
        let entry = ctx.create_entry_span("/start");
        let tw_http_peer = format!("127.0.0.1:{}", ports.tw_http);
        let exit = ctx.create_exit_span("/tw", &tw_http_peer);
        let sw8 = encode_propagation(&ctx, "/start", &tw_http_peer);
        let status = get(
            &http_client(),
            &format!("http://{tw_http_peer}/tw"),
            &[("sw8", sw8)],
        )
        .await;
        assert_eq!(status, 200);
        drop(exit);
        let tw_grpc_peer = format!("127.0.0.1:{}", ports.tw_grpc);
        let exit = ctx.create_exit_span("shop.inventory.v1.Inventory/Reserve", &tw_grpc_peer);
        let sw8 = encode_propagation(&ctx, "/start", &tw_grpc_peer);
        let channel = Endpoint::from_shared(format!("http://{tw_grpc_peer}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut request = Request::new(ReserveRequest {
            sku: "book".into(),
            quantity: 2,
        });
        request.metadata_mut().insert("sw8", sw8.parse().unwrap());
        let reply = InventoryClient::new(channel)
            .reserve(request)
            .await
            .unwrap();
        assert!(reply.into_inner().reserved);
        drop(exit);
        drop(entry);
        drop(ctx);
        trace_id
    };

    // 2. The reverse: a trace that starts in traceweave and calls the skywalking crate's service.
    let tw_trace = tw_job(ports).await.to_string();

    assert!(traceweave::force_flush().is_ok());
    let received = oap.wait_for(|r| {
        let segments = r["segments"].as_array().unwrap();
        let count = |t: &str, service: &str| {
            segments
                .iter()
                .filter(|s| s["traceId"] == t && s["service"] == service)
                .count()
        };
        // Trace 1: rust-sw /start, /back twice... (entries: /start, /back, Reserve; traceweave:
        // its two servers, two clients, reserve_stock and the HTTP handler's spans).
        count(&sw_trace, "rust-sw") >= 3
            && count(&sw_trace, "tw-orders") >= 5
            && count(&tw_trace, "rust-sw") >= 2
            && count(&tw_trace, "tw-orders") >= 3
            && r["pings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["service"] == "tw-orders")
    });
    let _ = stop_sw.send(());
    let _ = sw_reporting.await;
    drop(guard);
    assert!(
        received["errors"].as_array().unwrap().is_empty(),
        "{received}"
    );

    // Started by the skywalking crate: its two exits (HTTP, gRPC) and traceweave's two calls
    // back; started by traceweave: its two calls.
    check_joins(&received, &sw_trace, &["rust-sw", "tw-orders"], 4);
    check_joins(&received, &tw_trace, &["rust-sw", "tw-orders"], 2);

    // The tokens, every call; traceweave's instance.
    for seg in received["segments"].as_array().unwrap() {
        let token = if seg["service"] == "tw-orders" {
            "tw-token"
        } else {
            "sw-token"
        };
        assert_eq!(seg["_auth"], token, "{seg}");
    }
    let props = received["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["service"] == "tw-orders")
        .unwrap_or_else(|| panic!("no instance properties: {received}"));
    assert_eq!(props["_auth"], "tw-token");
    assert!(
        props["properties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["key"] == "language" && p["value"] == "rust")
    );
    let ping = received["pings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["service"] == "tw-orders")
        .unwrap();
    assert_eq!(ping["serviceInstance"], props["serviceInstance"]);
    assert_eq!(ping["_auth"], "tw-token");
}
