//! The shop demo: the journey of the source articles as separate services, each hop one line.
//!
//! `cargo run -p traceweave-examples --bin shop` starts, as processes of their own with their
//! own service names:
//! - `inventory`: a tonic gRPC service (`GrpcServerLayer`) with a local "database" span;
//! - `gateway`: an HTTP API (axum with `ServerLayer`) that reserves stock over gRPC
//!   (`GrpcClientLayer`) and publishes an order message;
//! - `order-worker`: consumes the orders (`#[traced_rpc(consumer)]`) from RabbitMQ, or from NATS
//!   when RabbitMQ is not reachable; when neither is, the gateway hands orders to an in-process
//!   queue and consumes them itself, and the spans say `messaging.system = in-process`.
//!
//! This process is the `customer` (a traced HTTP client) and the collector: the services export
//! OTLP/HTTP to a `traceweave-view` receiver embedded here. It sends four checkouts (one fails
//! in the stock database, one is slow), prints each trace as a tree across the services, writes
//! `trace.html` (the viewer's waterfall and service map, no server needed) and exits; with
//! `--serve` it keeps the viewer running and prints its URL.
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, every
//! service exports there too, by the usual `OTEL_*` variables (protocol, headers, TLS): the
//! demo in your own Jaeger, Tempo or collector, as well as in the embedded viewer.
//!
//! With `--skywalking ADDR` every service (and the customer) also reports to Apache SkyWalking's
//! OAP at ADDR (`host:port` of its gRPC receiver, usually 11800) as native segments, by the
//! agents' own variables (`SW_AGENT_COLLECTOR_BACKEND_SERVICES`), with `sw8` among the
//! propagators: the journey as one SkyWalking trace and topology.
//!
//! Options: `--serve`, `--ui ADDR` (default 127.0.0.1:16686), `-o FILE` (default trace.html),
//! `--skywalking ADDR`.
//! Environment: `AMQP_ADDR` (default amqp://guest:guest@127.0.0.1:5672/%2f), `NATS_ADDR`
//! (default 127.0.0.1:4222).

use std::collections::HashMap;
use std::error::Error;
use std::net::SocketAddr;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tonic::transport::{Endpoint, Server};
use tower::{Layer, ServiceExt};
use traceweave::integrations::http::{ClientLayer, ServerLayer};
use traceweave::integrations::tonic::{GrpcClientLayer, GrpcClientService, GrpcServerLayer};
use traceweave::propagation::RpcCarrier;
use traceweave::{current_span, traced, traced_rpc};
use traceweave_tests::inventory::inventory_client::InventoryClient;
use traceweave_tests::inventory::inventory_server::{Inventory, InventoryServer};
use traceweave_tests::inventory::{ReserveReply, ReserveRequest};
use traceweave_view::{Retention, Store, report, server, tree};

type BoxError = Box<dyn Error + Send + Sync>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shop: no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match args.first().map(String::as_str) {
            Some("--role") => service(&args[1..]).await,
            _ => demo(&args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shop: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---- the queue between the gateway and the order worker -------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Transport {
    Amqp,
    Nats,
    InProcess,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Amqp => "amqp",
            Transport::Nats => "nats",
            Transport::InProcess => "in-process",
        }
    }

    fn parse(s: &str) -> Result<Self, BoxError> {
        match s {
            "amqp" => Ok(Transport::Amqp),
            "nats" => Ok(Transport::Nats),
            "in-process" => Ok(Transport::InProcess),
            other => Err(format!("unknown transport {other}").into()),
        }
    }
}

fn amqp_addr() -> String {
    std::env::var("AMQP_ADDR").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

fn nats_addr() -> String {
    std::env::var("NATS_ADDR").unwrap_or_else(|_| "127.0.0.1:4222".into())
}

/// RabbitMQ if it answers, else NATS, else the in-process queue; one line says which and why.
async fn pick_transport() -> Transport {
    let amqp = amqp_addr();
    let amqp_error = match tokio::time::timeout(
        Duration::from_secs(2),
        Connection::connect(&amqp, ConnectionProperties::default()),
    )
    .await
    {
        Ok(Ok(conn)) => {
            let _ = conn.close(0, "probe".into()).await;
            println!("orders go over RabbitMQ at {}", redact(&amqp));
            return Transport::Amqp;
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer in 2 s".to_owned(),
    };
    let nats = nats_addr();
    match tokio::time::timeout(Duration::from_secs(2), async_nats::connect(&nats)).await {
        Ok(Ok(_)) => {
            println!(
                "RabbitMQ not reachable at {} ({amqp_error}): orders go over NATS at {nats}",
                redact(&amqp)
            );
            Transport::Nats
        }
        _ => {
            println!(
                "RabbitMQ not reachable at {} ({amqp_error}), nor NATS at {nats}: orders go over \
                 an in-process queue in the gateway (messaging.system = in-process)",
                redact(&amqp)
            );
            Transport::InProcess
        }
    }
}

/// An address without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// A message of the in-process queue: a transport of the application's own. Implementing
/// `RpcCarrier` is all `#[traced_rpc(consumer)]` needs to continue the producer's trace.
#[derive(Debug)]
struct InProcessMessage {
    headers: HashMap<String, String>,
    body: String,
}

impl RpcCarrier for InProcessMessage {
    fn parent_context(&self) -> traceweave::Context {
        traceweave::extract(&self.headers)
    }

    fn describe(&self, span: &mut traceweave::Span) {
        span.set_attribute("messaging.system", "in-process");
        span.set_attribute("messaging.operation.type", "process");
        span.set_attribute("messaging.destination.name", "orders");
    }
}

#[traced(kind = producer, name = "orders publish",
    attrs(messaging.system = "in-process", messaging.operation.type = "send",
          messaging.destination.name = "orders"))]
fn publish_in_process(queue: &mpsc::UnboundedSender<InProcessMessage>, body: String) -> bool {
    let mut headers = HashMap::new();
    traceweave::inject(&mut headers);
    queue.send(InProcessMessage { headers, body }).is_ok()
}

// ---- inventory: gRPC with a local database span ---------------------------------------------

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
        let left = select_stock(&r.sku).await?;
        if r.quantity > left {
            return Err(tonic::Status::resource_exhausted(format!(
                "only {left} {} left",
                r.sku
            )));
        }
        Ok(tonic::Response::new(ReserveReply {
            reserved: true,
            reservation_id: format!("res-{}-{}", r.sku, r.quantity),
        }))
    }
}

/// The "database": a client span as a SQL driver would make (the service map shows
/// `postgresql` as a node of its own).
#[traced(kind = client, name = "SELECT stock", args(sku),
    attrs(db.system.name = "postgresql", db.operation.name = "SELECT", db.collection.name = "stock"))]
async fn select_stock(sku: &str) -> Result<u32, tonic::Status> {
    match sku {
        "poster" => {
            // A full table scan: the slow request of the demo.
            tokio::time::sleep(Duration::from_millis(250)).await;
            Ok(40)
        }
        "ghost" => {
            tokio::time::sleep(Duration::from_millis(3)).await;
            Err(tonic::Status::internal(format!(
                "stock table has no row for {sku}"
            )))
        }
        _ => {
            tokio::time::sleep(Duration::from_millis(3)).await;
            Ok(100)
        }
    }
}

/// Where the embedded viewer receives OTLP, for the service processes.
const VIEWER_VAR: &str = "TRACEWEAVE_SHOP_VIEWER";

/// Whether the user pointed the OTLP exporter somewhere: then the demo goes there too.
fn user_endpoint() -> Option<String> {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
}

/// A service's tracing: the embedded viewer always, and whatever `OTEL_*` selects as well.
fn tracing_for(service: &'static str) -> Result<traceweave::TracingGuard, BoxError> {
    let viewer = std::env::var(VIEWER_VAR).map_err(|_| format!("{VIEWER_VAR} is not set"))?;
    Ok(traceweave::builder()
        .service_name(service)
        .also_export(traceweave::export::OtlpExporter::new(&viewer))
        .install()?)
}

async fn inventory() -> Result<(), BoxError> {
    let _tracing = tracing_for("inventory")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(
        Server::builder()
            .layer(GrpcServerLayer)
            .add_service(InventoryServer::new(Stock))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    println!("ready {addr}");
    until_stdin_closes().await;
    Ok(())
}

// ---- gateway: the HTTP API ------------------------------------------------------------------

#[derive(Clone)]
enum Orders {
    Amqp(lapin::Channel, String),
    Nats(async_nats::Client, String),
    InProcess(mpsc::UnboundedSender<InProcessMessage>),
}

impl Orders {
    async fn publish(&self, body: String) -> Result<(), String> {
        match self {
            Orders::Amqp(channel, queue) => traceweave::integrations::amqp::publish(
                channel,
                "",
                queue,
                Default::default(),
                body.as_bytes(),
                BasicProperties::default(),
            )
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
            Orders::Nats(client, subject) => {
                traceweave::integrations::nats::publish(client, subject.clone(), body.into())
                    .await
                    .map_err(|e| e.to_string())
            }
            Orders::InProcess(queue) => publish_in_process(queue, body)
                .then_some(())
                .ok_or_else(|| "the in-process order queue is closed".to_owned()),
        }
    }
}

#[derive(Clone)]
struct Gateway {
    inventory: InventoryClient<GrpcClientService<tonic::transport::Channel>>,
    orders: Orders,
}

#[derive(serde::Deserialize)]
struct CheckoutParams {
    sku: String,
    qty: u32,
}

// The server span ("POST /checkout") comes from `ServerLayer`.
async fn checkout(
    State(mut shop): State<Gateway>,
    Query(p): Query<CheckoutParams>,
) -> (StatusCode, String) {
    let request = ReserveRequest {
        sku: p.sku,
        quantity: p.qty,
    };
    let reservation = match shop.inventory.reserve(request).await {
        Ok(reply) => reply.into_inner().reservation_id,
        Err(s) if s.code() == tonic::Code::ResourceExhausted => {
            return (StatusCode::CONFLICT, s.message().to_owned());
        }
        Err(s) => return (StatusCode::BAD_GATEWAY, s.message().to_owned()),
    };
    match shop.orders.publish(reservation.clone()).await {
        Ok(()) => (StatusCode::OK, reservation),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn gateway(inventory_addr: &str, transport: Transport, queue: &str) -> Result<(), BoxError> {
    let _tracing = tracing_for("gateway")?;
    let orders = match transport {
        Transport::Amqp => {
            let conn = Connection::connect(&amqp_addr(), ConnectionProperties::default()).await?;
            let channel = conn.create_channel().await?;
            // The connection lives as long as the channel's users.
            std::mem::forget(conn);
            Orders::Amqp(channel, queue.to_owned())
        }
        Transport::Nats => Orders::Nats(async_nats::connect(nats_addr()).await?, queue.to_owned()),
        Transport::InProcess => {
            let (tx, mut rx) = mpsc::unbounded_channel();
            tokio::spawn(async move {
                while let Some(message) = rx.recv().await {
                    let _ = on_in_process_order(message).await;
                }
            });
            Orders::InProcess(tx)
        }
    };
    let endpoint = Endpoint::from_shared(format!("http://{inventory_addr}"))?;
    let inventory =
        InventoryClient::new(GrpcClientLayer::to(endpoint.uri()).layer(endpoint.connect_lazy()));
    let app = axum::Router::new()
        .route("/checkout", axum::routing::post(checkout))
        .layer(ServerLayer::new())
        .with_state(Gateway { inventory, orders });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("ready {addr}");
    until_stdin_closes().await;
    Ok(())
}

// ---- order worker: the consumer -------------------------------------------------------------

#[traced_rpc(consumer)]
async fn on_order_created(delivery: lapin::message::Delivery) -> Result<(), lapin::Error> {
    fulfil(&String::from_utf8_lossy(&delivery.data)).await;
    delivery.ack(BasicAckOptions::default()).await.map(drop)
}

#[traced_rpc(consumer)]
async fn on_order_message(message: async_nats::Message) {
    fulfil(&String::from_utf8_lossy(&message.payload)).await;
}

#[traced_rpc(consumer, name = "orders process")]
async fn on_in_process_order(message: InProcessMessage) {
    fulfil(&message.body).await;
}

#[traced(args(%reservation))]
async fn fulfil(reservation: &str) {
    send_confirmation_email(reservation).await;
    // The orchestrator counts these lines to know every order was handled.
    println!("fulfilled {reservation}");
}

#[traced(kind = client, attrs(peer.service = "mailer"))]
async fn send_confirmation_email(reservation: &str) {
    let _ = reservation;
    tokio::time::sleep(Duration::from_millis(4)).await;
}

async fn order_worker(transport: Transport, queue: &str) -> Result<(), BoxError> {
    let _tracing = tracing_for("order-worker")?;
    match transport {
        Transport::Amqp => {
            let conn = Connection::connect(&amqp_addr(), ConnectionProperties::default()).await?;
            let channel = conn.create_channel().await?;
            let options = QueueDeclareOptions {
                auto_delete: true,
                ..QueueDeclareOptions::default()
            };
            channel
                .queue_declare(queue.into(), options, FieldTable::default())
                .await?;
            let mut consumer = channel
                .basic_consume(
                    queue.into(),
                    "order-worker".into(),
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
        }
        Transport::Nats => {
            let client = async_nats::connect(nats_addr()).await?;
            let mut subscriber = client.subscribe(queue.to_owned()).await?;
            client.flush().await?;
            tokio::spawn(async move {
                while let Some(message) = subscriber.next().await {
                    on_order_message(message).await;
                }
                drop(client);
            });
        }
        Transport::InProcess => return Err("the in-process queue has no worker process".into()),
    }
    println!("ready");
    until_stdin_closes().await;
    Ok(())
}

// ---- child processes ------------------------------------------------------------------------

/// A service process: `shop --role NAME ...`. It exits (flushing its spans) when its stdin
/// closes, so the services never outlive the demo.
async fn service(args: &[String]) -> Result<(), BoxError> {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    match arg(0) {
        "inventory" => inventory().await,
        "gateway" => gateway(arg(1), Transport::parse(arg(2))?, arg(3)).await,
        "order-worker" => order_worker(Transport::parse(arg(1))?, arg(2)).await,
        other => Err(format!("unknown role {other:?}").into()),
    }
}

async fn until_stdin_closes() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
}

struct ServiceProcess {
    name: &'static str,
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl ServiceProcess {
    fn start(
        name: &'static str,
        args: &[&str],
        otlp: &str,
        skywalking: Option<&str>,
    ) -> Result<Self, BoxError> {
        // Exporters besides the viewer: the user's OTLP endpoint, the OAP, both, or none.
        let exporters = match (user_endpoint(), skywalking) {
            (None, None) => Some("none"),
            (None, Some(_)) => Some("skywalking"),
            (Some(_), Some(_)) => Some("otlp,skywalking"),
            (Some(_), None) => None,
        };
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .arg("--role")
            .arg(name)
            .args(args)
            // Every service exports to the receiver of this process, and promptly; to the
            // user's endpoint too when one is set (their OTEL_* variables stay as they are).
            .env(VIEWER_VAR, otlp)
            .envs(exporters.map(|e| ("OTEL_TRACES_EXPORTER", e)))
            .envs(skywalking.map(|a| ("SW_AGENT_COLLECTOR_BACKEND_SERVICES", a)))
            .env("OTEL_BSP_SCHEDULE_DELAY", "200")
            .env_remove("OTEL_SERVICE_NAME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        Ok(ServiceProcess {
            name,
            child,
            lines: BufReader::new(stdout).lines(),
        })
    }

    /// The next line the service prints, within `timeout`.
    async fn line(&mut self, timeout: Duration) -> Result<String, BoxError> {
        match tokio::time::timeout(timeout, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => Ok(line),
            Ok(Ok(None)) => Err(format!("{} exited early", self.name).into()),
            Ok(Err(e)) => Err(format!("{}: {e}", self.name).into()),
            Err(_) => Err(format!("{} said nothing for {timeout:?}", self.name).into()),
        }
    }

    /// Waits for `ready [ADDR]` and returns ADDR.
    async fn ready(&mut self) -> Result<String, BoxError> {
        let line = self.line(Duration::from_secs(20)).await?;
        line.strip_prefix("ready")
            .map(|a| a.trim().to_owned())
            .ok_or_else(|| format!("{}: unexpected {line:?}", self.name).into())
    }

    /// Closes its stdin and waits for it to flush its spans and exit.
    async fn stop(mut self) -> Result<(), BoxError> {
        drop(self.child.stdin.take());
        match tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("{} exited with {status}", self.name).into()),
            Ok(Err(e)) => Err(format!("{}: {e}", self.name).into()),
            Err(_) => Err(format!("{} did not stop in 15 s", self.name).into()),
        }
    }
}

// ---- the demo -------------------------------------------------------------------------------

/// The customer: a traced HTTP client, as another service calling the shop would be.
#[traced(root, name = "customer checkout", args(sku, qty))]
async fn customer(gateway: SocketAddr, sku: &str, qty: u32) -> Result<String, BoxError> {
    let client = ClientLayer::new().layer(Client::builder(TokioExecutor::new()).build_http());
    let request = http::Request::post(format!("http://{gateway}/checkout?sku={sku}&qty={qty}"))
        .body(Full::new(Bytes::new()))?;
    let response = client.oneshot(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(format!("{status} {}", String::from_utf8_lossy(&body)))
}

async fn demo(args: &[String]) -> Result<(), BoxError> {
    let mut serve = false;
    let mut skywalking: Option<String> = None;
    let mut ui: SocketAddr = "127.0.0.1:16686".parse()?;
    let mut out = std::path::PathBuf::from("trace.html");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--serve" => serve = true,
            "--ui" => ui = it.next().ok_or("--ui needs an address")?.parse()?,
            "-o" | "--output" => out = it.next().ok_or("-o needs a file")?.into(),
            "--skywalking" => {
                skywalking = Some(
                    it.next()
                        .ok_or("--skywalking needs the OAP's host:port")?
                        .clone(),
                )
            }
            other => return Err(format!("unknown argument {other}; see the top of shop.rs").into()),
        }
    }

    // The collector: a traceweave-view receiver on a free port, spans kept in memory.
    let store = Arc::new(Store::memory(Retention::default())?);
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let otlp = format!("http://{}", receiver.local_addr()?);
    if let Some(endpoint) = user_endpoint() {
        println!("every service also exports to {endpoint} (OTEL_EXPORTER_OTLP_*)");
    }
    if let Some(oap) = &skywalking {
        println!("every service also reports to SkyWalking's OAP at {oap} (segments over gRPC)");
    }
    let sw = skywalking.as_deref();
    let stop = server::Stop::default();
    tokio::spawn(server::serve(
        receiver,
        server::otlp_router(store.clone()),
        stop.signal(),
    ));

    let transport = pick_transport().await;
    let queue = "shop.orders".to_owned();
    let mut inventory = ServiceProcess::start("inventory", &[], &otlp, sw)?;
    let inventory_addr = inventory.ready().await?;
    let mut worker = match transport {
        Transport::InProcess => None,
        t => {
            let mut w = ServiceProcess::start("order-worker", &[t.name(), &queue], &otlp, sw)?;
            w.ready().await?;
            Some(w)
        }
    };
    let mut gateway = ServiceProcess::start(
        "gateway",
        &[&inventory_addr, transport.name(), &queue],
        &otlp,
        sw,
    )?;
    let gateway_addr: SocketAddr = gateway.ready().await?.parse()?;
    println!("services up: gateway http://{gateway_addr}, inventory grpc://{inventory_addr}");

    let mut builder = match user_endpoint() {
        Some(_) => traceweave::builder()
            .service_name("customer")
            .also_export(traceweave::export::OtlpExporter::new(&otlp)),
        None => traceweave::builder()
            .ignore_env()
            .service_name("customer")
            .exporter(traceweave::export::OtlpExporter::new(&otlp)),
    };
    if let Some(oap) = sw {
        builder = builder.also_export(traceweave::export::SkyWalkingExporter::new(oap));
    }
    let tracing = builder.install()?;
    let mut fulfilled = 0;
    for (sku, qty, what) in [
        ("book", 2, "an order"),
        ("pen", 10, "another order"),
        ("ghost", 1, "fails: the stock table has no such row"),
        ("poster", 1, "slow: a full table scan"),
    ] {
        let outcome = customer(gateway_addr, sku, qty)
            .await
            .unwrap_or_else(|e| format!("failed: {e}"));
        if outcome.starts_with("200") {
            fulfilled += 1;
        }
        println!("customer: POST /checkout?sku={sku}&qty={qty} -> {outcome} ({what})");
    }

    // Every order consumed before the services stop (the worker prints a line per order).
    let consumer = worker.as_mut().unwrap_or(&mut gateway);
    for _ in 0..fulfilled {
        let line = consumer.line(Duration::from_secs(20)).await?;
        println!("{}: {line}", consumer.name);
    }
    let mut stops = vec![gateway.stop()];
    if let Some(w) = worker {
        stops.push(w.stop());
    }
    for s in stops {
        s.await?;
    }
    inventory.stop().await?;
    // Flushing the customer's spans blocks: off the runtime's threads.
    tokio::task::spawn_blocking(move || drop(tracing)).await?;

    let all = store.all_traces()?;
    println!();
    print!("{}", tree::render_all(&store)?);
    let html = report::html(&store, "traceweave shop demo")?;
    std::fs::write(&out, html).map_err(|e| format!("{}: {e}", out.display()))?;
    let shown = std::fs::canonicalize(&out).unwrap_or(out);
    println!(
        "{} spans from {} services in {} traces: open {}",
        store.span_count(),
        store.services().len(),
        all.len(),
        shown.display()
    );

    if serve {
        let listener = tokio::net::TcpListener::bind(ui)
            .await
            .map_err(|e| format!("cannot serve the viewer on {ui}: {e} (try --ui 127.0.0.1:0)"))?;
        println!(
            "viewer: http://{}/ (OTLP/HTTP receiver: {otlp}/v1/traces); Ctrl-C to stop",
            listener.local_addr()?
        );
        let viewer = tokio::spawn(server::serve(
            listener,
            server::ui_router(store.clone()),
            stop.signal(),
        ));
        tokio::signal::ctrl_c().await?;
        stop.stop();
        let _ = viewer.await;
    } else {
        stop.stop();
    }
    Ok(())
}
