//! The shop demo: the journey of the source articles, each hop one line.
//!
//! A customer calls the checkout HTTP API through a traced HTTP client (`ClientLayer`); the
//! API (axum with `ServerLayer`) reserves stock over gRPC (tonic: `GrpcClientLayer` on the
//! channel, `GrpcServerLayer` on the server), publishes an `order.created` message to
//! RabbitMQ (`integrations::amqp::publish`), and a consumer (`#[traced_rpc(consumer)]`)
//! continues the trace. No context is injected or extracted by hand. The console exporter
//! prints the whole request as one tree.
//!
//! `cargo run -p traceweave-examples --features shop --bin shop` (RabbitMQ on 127.0.0.1:5672;
//! without it the message hop is skipped and says so).

use std::time::Duration;

use axum::extract::State;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio_stream::StreamExt;
use tonic::transport::{Endpoint, Server};
use tower::{Layer, ServiceExt};
use traceweave::integrations::http::{ClientLayer, ServerLayer};
use traceweave::integrations::tonic::{GrpcClientLayer, GrpcClientService, GrpcServerLayer};
use traceweave::{current_span, traced, traced_rpc};
use traceweave_tests::inventory::inventory_client::InventoryClient;
use traceweave_tests::inventory::inventory_server::{Inventory, InventoryServer};
use traceweave_tests::inventory::{ReserveReply, ReserveRequest};

const QUEUE: &str = "traceweave-shop-orders";

struct Stock;

#[tonic::async_trait]
impl Inventory for Stock {
    // The server span comes from `GrpcServerLayer`; the handler only adds what it knows.
    async fn reserve(
        &self,
        request: tonic::Request<ReserveRequest>,
    ) -> Result<tonic::Response<ReserveReply>, tonic::Status> {
        let r = request.into_inner();
        current_span().set_attribute("order.quantity", i64::from(r.quantity));
        check_stock(&r.sku, r.quantity)?;
        Ok(tonic::Response::new(ReserveReply {
            reserved: true,
            reservation_id: format!("res-{}-{}", r.sku, r.quantity),
        }))
    }
}

#[traced(kind = client, attrs(db.system = "postgresql", db.operation = "SELECT"))]
fn check_stock(sku: &str, quantity: u32) -> Result<(), tonic::Status> {
    std::thread::sleep(Duration::from_millis(2));
    if quantity > 100 {
        return Err(tonic::Status::resource_exhausted(format!(
            "only 100 {sku} left"
        )));
    }
    Ok(())
}

#[derive(Clone)]
struct Shop {
    inventory: InventoryClient<GrpcClientService<tonic::transport::Channel>>,
    channel: Option<Channel>,
}

// The server span ("POST /checkout") comes from `ServerLayer`.
async fn checkout(State(mut shop): State<Shop>) -> (StatusCode, String) {
    let request = ReserveRequest {
        sku: "book".into(),
        quantity: 2,
    };
    let reservation = match shop.inventory.reserve(request).await {
        Ok(reply) => reply.into_inner().reservation_id,
        Err(status) => return (StatusCode::BAD_GATEWAY, status.message().to_owned()),
    };
    if let Some(channel) = &shop.channel {
        let published = traceweave::integrations::amqp::publish(
            channel,
            "",
            QUEUE,
            Default::default(),
            reservation.as_bytes(),
            BasicProperties::default(),
        )
        .await;
        if let Err(e) = published {
            return (StatusCode::SERVICE_UNAVAILABLE, e.to_string());
        }
    }
    (StatusCode::OK, reservation)
}

#[traced_rpc(consumer)]
async fn on_order_created(delivery: lapin::message::Delivery) -> Result<(), lapin::Error> {
    send_confirmation_email(&String::from_utf8_lossy(&delivery.data)).await;
    delivery.ack(BasicAckOptions::default()).await.map(drop)
}

#[traced(args(%reservation))]
async fn send_confirmation_email(reservation: &str) {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

/// The customer: a traced HTTP client, as another service calling the shop would be.
#[traced(root, name = "customer checkout")]
async fn customer(addr: std::net::SocketAddr) -> Result<String, Box<dyn std::error::Error>> {
    let client = ClientLayer::new().layer(Client::builder(TokioExecutor::new()).build_http());
    let request =
        http::Request::post(format!("http://{addr}/checkout")).body(Full::new(Bytes::new()))?;
    let response = client.oneshot(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(format!("{status} {}", String::from_utf8_lossy(&body)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _tracing = traceweave::builder().service_name("shop").install()?;

    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let grpc_addr = grpc.local_addr()?;
    tokio::spawn(
        Server::builder()
            .layer(GrpcServerLayer)
            .add_service(InventoryServer::new(Stock))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(grpc)),
    );

    let amqp = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let channel = match Connection::connect(amqp, ConnectionProperties::default()).await {
        Ok(conn) => {
            let channel = conn.create_channel().await?;
            channel
                .queue_declare(
                    QUEUE.into(),
                    QueueDeclareOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            let mut consumer = channel
                .basic_consume(
                    QUEUE.into(),
                    "shop".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            tokio::spawn(async move {
                while let Some(Ok(delivery)) = consumer.next().await {
                    let _ = on_order_created(delivery).await;
                }
                drop(conn);
            });
            Some(channel)
        }
        Err(e) => {
            eprintln!("no RabbitMQ on 127.0.0.1:5672 ({e}): skipping the message hop");
            None
        }
    };

    let endpoint = Endpoint::from_shared(format!("http://{grpc_addr}"))?;
    let inventory =
        InventoryClient::new(GrpcClientLayer::to(endpoint.uri()).layer(endpoint.connect_lazy()));
    let shop = Shop { inventory, channel };
    let app = axum::Router::new()
        .route("/checkout", axum::routing::post(checkout))
        .layer(ServerLayer::new())
        .with_state(shop);
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http_addr = http.local_addr()?;
    tokio::spawn(async move { axum::serve(http, app).await });

    println!("checkout: {}", customer(http_addr).await?);
    // Let the consumer finish before the guard flushes the trace to the console.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}
