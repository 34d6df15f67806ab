//! `#[traced_rpc]` continues the caller's trace from the incoming headers, a consumer can link
//! instead, HTTP 5xx and `Err` mark failures, and a client span injects itself.

use std::collections::HashMap;

use traceweave::testing::{capture, capture_async};
use traceweave::{Baggage, Context, SpanKind, Status, traced, traced_rpc};

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn headers(traceparent: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert("traceparent", traceparent.parse().unwrap());
    h.insert("baggage", "tenant=acme".parse().unwrap());
    h
}

#[traced(kind = client)]
fn call_downstream() -> HashMap<String, String> {
    let mut out = HashMap::new();
    traceweave::inject(&mut out);
    assert_eq!(Context::current().baggage().get("tenant"), Some("acme"));
    out
}

#[traced_rpc]
fn handle(request: http::Request<()>) -> http::Response<()> {
    let _ = &request;
    let sent = call_downstream();
    assert!(sent["traceparent"].starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert_eq!(sent["baggage"], "tenant=acme");
    http::Response::builder().status(503).body(()).unwrap()
}

#[test]
fn a_server_span_continues_the_remote_trace_and_clients_inject_themselves() {
    let spans = capture(|| {
        let mut req = http::Request::builder()
            .method("POST")
            .uri("http://shop.local/orders/42")
            .body(())
            .unwrap();
        *req.headers_mut() = headers(PARENT);
        let _ = handle(req);
    });
    let server = spans.named("handle").unwrap();
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(
        server.trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(server.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(server.parent_is_remote);
    assert_eq!(
        server.attribute("http.request.method").unwrap().as_str(),
        Some("POST")
    );
    assert_eq!(
        server.attribute("url.path").unwrap().as_str(),
        Some("/orders/42")
    );
    assert_eq!(
        server.attribute("http.response.status_code"),
        Some(&traceweave::Value::I64(503))
    );
    assert!(server.status.is_error());
    let client = spans.named("call_downstream").unwrap();
    assert_eq!(client.parent_span_id, server.span_id);
    assert_eq!(client.kind, SpanKind::Client);
}

#[traced_rpc(consumer, link)]
async fn on_message(headers: &http::HeaderMap) -> Result<(), std::io::Error> {
    let _ = headers;
    Err(std::io::Error::other("poison message"))
}

#[traced_rpc(consumer)]
async fn on_message_child(headers: http::HeaderMap) {
    let _ = headers;
}

#[tokio::test]
async fn consumers_continue_or_link() {
    let spans = capture_async(async {
        let _ = on_message(&headers(PARENT)).await;
        on_message_child(headers(PARENT)).await;
    })
    .await;
    let linked = spans.named("on_message").unwrap();
    assert_eq!(linked.kind, SpanKind::Consumer);
    assert!(linked.is_root());
    assert_ne!(
        linked.trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(linked.links.len(), 1);
    assert_eq!(linked.links[0].span_id.to_string(), "00f067aa0ba902b7");
    assert!(linked.links[0].is_remote);
    assert_eq!(linked.status, Status::error("poison message"));
    let child = spans.named("on_message_child").unwrap();
    assert_eq!(child.parent_span_id.to_string(), "00f067aa0ba902b7");
}

#[traced_rpc(carrier = map)]
fn custom(map: &HashMap<String, String>) -> Baggage {
    Context::current().baggage().clone()
}

#[test]
fn malformed_headers_start_a_new_trace() {
    let spans = capture(|| {
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
            "",
        ] {
            let mut map = HashMap::new();
            map.insert("traceparent".to_string(), bad.to_string());
            map.insert("baggage".to_string(), "ok=1,bad key=2".to_string());
            let bag = custom(&map);
            assert_eq!(bag.get("ok"), Some("1"));
        }
    });
    assert_eq!(spans.len(), 3);
    assert!(spans.iter().all(|s| s.is_root()));
}

/// A request type of the application's own, found among the parameters through `RpcCarrier`
/// (not by its name), describing itself.
struct Job {
    id: u64,
    headers: HashMap<String, String>,
}

impl traceweave::propagation::RpcCarrier for Job {
    fn parent_context(&self) -> Context {
        traceweave::extract(&self.headers)
    }
    fn describe(&self, span: &mut traceweave::Span) {
        span.set_attribute("job.id", self.id as i64);
    }
}

#[traced_rpc(consumer)]
fn run_job(attempt: u32, job: &Job) -> u32 {
    attempt + job.headers.len() as u32
}

#[test]
fn a_request_type_of_the_applications_own_continues_the_trace() {
    let spans = capture(|| {
        let mut headers = HashMap::new();
        headers.insert("traceparent".to_string(), PARENT.to_string());
        run_job(1, &Job { id: 7, headers });
    });
    let span = spans.named("run_job").unwrap();
    assert_eq!(span.kind, SpanKind::Consumer);
    assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert_eq!(span.attribute("job.id").unwrap().as_i64(), Some(7));
}

#[traced_rpc]
async fn grpc_handler(
    request: tonic::Request<tonic::Code>,
) -> Result<tonic::Response<()>, tonic::Status> {
    match request.into_inner() {
        tonic::Code::Ok => Ok(tonic::Response::new(())),
        code => Err(tonic::Status::new(code, "refused")),
    }
}

#[traced(kind = client)]
async fn grpc_client(code: tonic::Code) -> Result<tonic::Response<()>, tonic::Status> {
    grpc_handler(tonic::Request::new(code)).await
}

#[tokio::test]
async fn grpc_status_codes_fail_servers_only_on_server_faults_and_clients_on_any() {
    use tonic::Code;
    for (code, server_fails) in [
        (Code::Ok, false),
        (Code::NotFound, false),
        (Code::InvalidArgument, false),
        (Code::PermissionDenied, false),
        (Code::Unknown, true),
        (Code::DeadlineExceeded, true),
        (Code::Unimplemented, true),
        (Code::Internal, true),
        (Code::Unavailable, true),
        (Code::DataLoss, true),
    ] {
        let spans = capture_async(async {
            let _ = grpc_client(code).await;
        })
        .await;
        let server = spans.named("grpc_handler").unwrap();
        let client = spans.named("grpc_client").unwrap();
        for span in [server, client] {
            assert_eq!(
                span.attribute("rpc.grpc.status_code").unwrap().as_i64(),
                Some(code as i64),
                "{code:?}"
            );
        }
        assert_eq!(server.status.is_error(), server_fails, "{code:?}");
        assert_eq!(client.status.is_error(), code != Code::Ok, "{code:?}");
    }
}
