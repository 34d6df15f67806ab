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
