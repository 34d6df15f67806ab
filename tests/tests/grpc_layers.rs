//! Over real sockets: a tonic server traced as a whole by `GrpcServerLayer` and a tonic client
//! traced by `GrpcClientLayer` around its `Channel`. One trace per call (client span → server
//! span → the handler's `#[traced]` work, baggage crossing), the names and `rpc.*` attributes,
//! and the status codes read from the trailers: servers fail only on server-fault codes,
//! clients on any code but OK, and a dead server fails the client span.

use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Code, Request, Response, Status};
use tower::Layer;
use traceweave::integrations::tonic::{GrpcClientLayer, GrpcServerLayer};
use traceweave::{Baggage, Context, SpanKind, TraceId, traced};
use traceweave_tests::inventory::inventory_client::InventoryClient;
use traceweave_tests::inventory::inventory_server::{Inventory, InventoryServer};
use traceweave_tests::inventory::{ReserveReply, ReserveRequest};
use traceweave_tests::{attr, one, shared_pipeline, spans_of};

#[traced]
fn check_stock(quantity: u32) -> Result<(), Status> {
    match quantity {
        0..=10 => Ok(()),
        11..=50 => Err(Status::resource_exhausted("not enough stock")),
        _ => Err(Status::internal("stock table corrupt")),
    }
}

struct Stock;

#[tonic::async_trait]
impl Inventory for Stock {
    async fn reserve(
        &self,
        request: Request<ReserveRequest>,
    ) -> Result<Response<ReserveReply>, Status> {
        let r = request.into_inner();
        check_stock(r.quantity)?;
        let tenant = Context::current()
            .baggage()
            .get("tenant")
            .unwrap_or("-")
            .to_owned();
        Ok(Response::new(ReserveReply {
            reserved: true,
            reservation_id: format!("res-{}-{tenant}", r.sku),
        }))
    }
}

#[traced(root)]
async fn call(
    client: &mut InventoryClient<traceweave::integrations::tonic::GrpcClientService<Channel>>,
    quantity: u32,
) -> (Result<String, Status>, TraceId) {
    let trace_id = traceweave::current_ids().unwrap().0;
    let cx = Context::current().with_baggage(Baggage::new().with("tenant", "acme"));
    let reply = traceweave::FutureExt::with_context(
        client.reserve(ReserveRequest {
            sku: "book".into(),
            quantity,
        }),
        cx,
    )
    .await;
    (reply.map(|r| r.into_inner().reservation_id), trace_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_server_layers_trace_every_call() {
    let _ = shared_pipeline();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .layer(GrpcServerLayer)
            .add_service(InventoryServer::new(Stock))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let channel = endpoint.connect().await.unwrap();
    let mut client = InventoryClient::new(GrpcClientLayer::to(endpoint.uri()).layer(channel));

    for (quantity, code, server_fails) in [
        (2, Code::Ok, false),
        (20, Code::ResourceExhausted, false),
        (99, Code::Internal, true),
    ] {
        let (reply, trace_id) = call(&mut client, quantity).await;
        match &reply {
            Ok(id) => assert_eq!(id, "res-book-acme", "baggage crossed"),
            Err(status) => assert_eq!(status.code(), code),
        }
        let spans = spans_of(trace_id);
        let root = spans.iter().find(|s| s.name == "call").unwrap();
        let client_span = one(&spans, SpanKind::Client);
        let server = one(&spans, SpanKind::Server);
        let work = spans.iter().find(|s| s.name == "check_stock").unwrap();
        assert_eq!(client_span.parent_span_id, root.span_id);
        assert_eq!(server.parent_span_id, client_span.span_id);
        assert!(server.parent_is_remote);
        assert_eq!(work.parent_span_id, server.span_id);

        for span in [client_span, server] {
            assert_eq!(span.name, "shop.inventory.v1.Inventory/Reserve");
            assert_eq!(attr(span, "rpc.system").as_deref(), Some("grpc"));
            assert_eq!(
                attr(span, "rpc.service").as_deref(),
                Some("shop.inventory.v1.Inventory")
            );
            assert_eq!(attr(span, "rpc.method").as_deref(), Some("Reserve"));
            assert_eq!(
                attr(span, "rpc.grpc.status_code"),
                Some((code as i32).to_string()),
                "{quantity}: {:?}",
                span.kind
            );
        }
        assert_eq!(
            attr(client_span, "server.address").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            attr(client_span, "server.port"),
            Some(addr.port().to_string())
        );
        assert_eq!(
            client_span.status.is_error(),
            code != Code::Ok,
            "{quantity}"
        );
        assert_eq!(server.status.is_error(), server_fails, "{quantity}");
        if server_fails {
            assert_eq!(
                server.status,
                traceweave::Status::error("Internal: stock table corrupt")
            );
        }
    }
}

#[tokio::test]
async fn a_dead_server_fails_the_client_span() {
    let _ = shared_pipeline();
    let port = traceweave_tests::free_port();
    // Connected lazily: the call itself meets the refused connection.
    let channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_lazy();
    let mut client = InventoryClient::new(GrpcClientLayer::new().layer(channel));
    let (reply, trace_id) = call(&mut client, 1).await;
    assert!(reply.is_err());
    let spans = spans_of(trace_id);
    let client_span = one(&spans, SpanKind::Client);
    assert!(client_span.status.is_error());
    assert!(attr(client_span, "error.type").is_some());
}
