//! The shop demo: the journey of the source articles, each hop one attribute.
//!
//! A client calls the checkout HTTP API (axum, `#[traced_rpc]`), which reserves stock over
//! gRPC (tonic, `#[traced_rpc]` on the server, a client span that injects), publishes an
//! `order.created` message to RabbitMQ (a producer span that injects into the AMQP headers),
//! and a consumer (`#[traced_rpc(consumer)]`) continues the trace. The console exporter
//! prints the whole request as one tree.
//!
//! `cargo run -p traceweave-examples --features shop --bin shop` (RabbitMQ on 127.0.0.1:5672;
//! without it the message hop is skipped and says so).

use std::time::Duration;

use axum::extract::State;
use http::{HeaderMap, StatusCode};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;
use tonic::transport::Server;
use traceweave::{traced, traced_rpc};
use traceweave_tests::inventory::inventory_client::InventoryClient;
use traceweave_tests::inventory::inventory_server::{Inventory, InventoryServer};
use traceweave_tests::inventory::{ReserveReply, ReserveRequest};

const QUEUE: &str = "traceweave-shop-orders";

struct Stock;

#[tonic::async_trait]
impl Inventory for Stock {
    #[traced_rpc(attrs(order.quantity = request.get_ref().quantity))]
    async fn reserve(
        &self,
        request: tonic::Request<ReserveRequest>,
    ) -> Result<tonic::Response<ReserveReply>, tonic::Status> {
        let r = request.into_inner();
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
    grpc: String,
    channel: Option<Channel>,
}

#[traced(kind = client, name = "shop.inventory.v1.Inventory/Reserve")]
async fn reserve(grpc: &str, quantity: u32) -> Result<String, tonic::Status> {
    let mut client = InventoryClient::connect(grpc.to_owned())
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(ReserveRequest {
        sku: "book".into(),
        quantity,
    });
    traceweave::inject(request.metadata_mut());
    Ok(client.reserve(request).await?.into_inner().reservation_id)
}

#[traced(kind = producer, attrs(messaging.system = "rabbitmq", messaging.destination.name = QUEUE))]
async fn publish_order(channel: &Channel, reservation: &str) -> Result<(), lapin::Error> {
    let mut headers = FieldTable::default();
    traceweave::inject(&mut headers);
    channel
        .basic_publish(
            "".into(),
            QUEUE.into(),
            BasicPublishOptions::default(),
            reservation.as_bytes(),
            BasicProperties::default().with_headers(headers),
        )
        .await?
        .await?;
    Ok(())
}

#[traced_rpc(name = "POST /checkout", attrs(http.route = "/checkout"))]
async fn checkout(State(shop): State<Shop>, headers: HeaderMap) -> (StatusCode, String) {
    let _ = &headers;
    let reservation = match reserve(&shop.grpc, 2).await {
        Ok(r) => r,
        Err(status) => return (StatusCode::BAD_GATEWAY, status.message().to_owned()),
    };
    if let Some(channel) = &shop.channel
        && let Err(e) = publish_order(channel, &reservation).await
    {
        return (StatusCode::SERVICE_UNAVAILABLE, e.to_string());
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

/// A client with its own span: what a browser's or another service's instrumentation does.
#[traced(kind = client, name = "browser: POST /checkout")]
async fn customer(addr: std::net::SocketAddr) -> std::io::Result<String> {
    let mut headers = std::collections::HashMap::new();
    traceweave::inject(&mut headers);
    let mut request = format!(
        "POST /checkout HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 0\r\nconnection: close\r\n"
    );
    for (k, v) in &headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response.lines().next().unwrap_or_default().to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _tracing = traceweave::builder().service_name("shop").install()?;

    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let grpc_addr = grpc.local_addr()?;
    tokio::spawn(
        Server::builder()
            .layer(traceweave::integrations::tonic::GrpcMethodLayer)
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

    let shop = Shop {
        grpc: format!("http://{grpc_addr}"),
        channel,
    };
    let app = axum::Router::new()
        .route("/checkout", axum::routing::post(checkout))
        .with_state(shop);
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http_addr = http.local_addr()?;
    tokio::spawn(async move { axum::serve(http, app).await });

    println!("checkout: {}", customer(http_addr).await?);
    // Let the consumer finish before the guard flushes the trace to the console.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}
