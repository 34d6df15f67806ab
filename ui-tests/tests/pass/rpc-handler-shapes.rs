use std::collections::HashMap;

use traceweave::traced_rpc;

#[traced_rpc]
async fn owned_headers(headers: http::HeaderMap) -> http::StatusCode {
    let _ = headers;
    http::StatusCode::OK
}

#[traced_rpc(name = "GET /items", args(id))]
async fn borrowed_headers(id: u32, headers: &http::HeaderMap) -> (http::StatusCode, String) {
    let _ = headers;
    (http::StatusCode::OK, id.to_string())
}

#[traced_rpc]
fn http_request<B>(req: http::Request<B>) -> http::Response<()> {
    let _ = req;
    http::Response::new(())
}

#[traced_rpc]
async fn grpc(request: tonic::Request<String>) -> Result<tonic::Response<String>, tonic::Status> {
    Ok(tonic::Response::new(request.into_inner()))
}

#[traced_rpc(consumer)]
async fn amqp(delivery: lapin::message::Delivery) {
    let _ = delivery;
}

#[traced_rpc(consumer, link)]
fn amqp_properties(properties: &lapin::BasicProperties) {
    let _ = properties;
}

#[traced_rpc(kind = consumer)]
async fn nats(message: async_nats::Message) -> anyhow::Result<()> {
    let _ = message;
    Ok(())
}

#[traced_rpc(carrier = headers)]
fn custom_carrier(headers: &HashMap<String, String>) {
    let _ = headers;
}

#[traced_rpc(carrier = req.headers(), ret)]
fn carrier_expression(req: &http::Request<()>) -> u8 {
    let _ = req;
    1
}

/// A request type of the user's own: the macro finds it through `RpcCarrier`, not its name.
struct Job {
    headers: HashMap<String, String>,
}

impl traceweave::propagation::RpcCarrier for Job {
    fn parent_context(&self) -> traceweave::Context {
        traceweave::extract(&self.headers)
    }
}

#[traced_rpc(consumer)]
fn own_request_type(attempt: u32, job: &Job) {
    let _ = (attempt, job);
}

#[traced_rpc]
fn generic_request<R: traceweave::propagation::RpcCarrier>(label: &str, request: R) {
    let _ = (label, request);
}

#[async_trait::async_trait]
trait Greeter: Send + Sync + 'static {
    async fn say_hello(
        &self,
        request: tonic::Request<String>,
    ) -> Result<tonic::Response<String>, tonic::Status>;
}

struct MyGreeter;

#[async_trait::async_trait]
impl Greeter for MyGreeter {
    #[traced_rpc]
    async fn say_hello(
        &self,
        request: tonic::Request<String>,
    ) -> Result<tonic::Response<String>, tonic::Status> {
        Ok(tonic::Response::new(format!("hello {}", request.into_inner())))
    }
}

fn main() {
    own_request_type(1, &Job { headers: HashMap::new() });
    generic_request("x", http::HeaderMap::new());
    let _ = owned_headers(http::HeaderMap::new());
    let _ = borrowed_headers(1, &http::HeaderMap::new());
    let _ = http_request(http::Request::new(()));
    let _ = grpc(tonic::Request::new(String::new()));
    let _ = amqp;
    amqp_properties(&lapin::BasicProperties::default());
    let _ = nats;
    custom_carrier(&HashMap::new());
    let _ = carrier_expression(&http::Request::new(()));
    let _ = MyGreeter.say_hello(tonic::Request::new(String::new()));
}
