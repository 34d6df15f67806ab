//! Over real sockets: an axum server traced by `integrations::http::ServerLayer` and a
//! hyper-util client traced by `ClientLayer`. One trace per request (client span → server span
//! → the handler's `#[traced]` work), the names and every semantic-convention attribute, 4xx
//! failing the client only, 5xx both, unknown methods, the server span covering the streamed
//! body, a refused connection failing the client span; reqwest through `TracingMiddleware`.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use axum::routing::{any, get};
use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Layer, ServiceExt};
use traceweave::integrations::http::{ClientLayer, ServerLayer};
use traceweave::{SpanKind, SpanRecord, TraceId, current_span, traced};
use traceweave_tests::{attr, one, shared_pipeline, spans_of};

#[traced]
fn load_order(id: u32) -> u32 {
    id * 2
}

async fn order(axum::extract::Path(id): axum::extract::Path<u32>) -> String {
    current_span().set_attribute("order.id", i64::from(id));
    load_order(id).to_string()
}

async fn status(axum::extract::Path(code): axum::extract::Path<u16>) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}

/// A body that yields three chunks 40 ms apart.
struct SlowBody {
    left: u8,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for SlowBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        std::task::ready!(self.sleep.as_mut().poll(cx));
        self.left -= 1;
        self.sleep = Box::pin(tokio::time::sleep(Duration::from_millis(40)));
        Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(
            b"chunk",
        )))))
    }
}

async fn slow() -> axum::body::Body {
    axum::body::Body::new(SlowBody {
        left: 3,
        sleep: Box::pin(tokio::time::sleep(Duration::from_millis(40))),
    })
}

async fn serve() -> String {
    static ADDR: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    ADDR.get_or_init(|| async {
        let app = axum::Router::new()
            .route("/orders/{id}", get(order))
            .route("/status/{code}", any(status))
            .route("/slow", get(slow))
            .layer(ServerLayer::new());
        let search = axum::Router::new()
            .route("/search", get(|| async { "found" }))
            .layer(ServerLayer::new().record_query(true));
        let app = app.merge(search);
        // A runtime of its own, which registers the socket: each test's runtime ends with it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    axum::serve(
                        listener,
                        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                    )
                    .await
                })
        });
        format!("127.0.0.1:{}", addr.port())
    })
    .await
    .clone()
}

struct Reply {
    status: Option<StatusCode>,
    body: String,
    trace_id: TraceId,
}

/// Sends one request through the traced client inside a root span, reading the whole body.
#[traced(root)]
async fn send(method: &str, url: String) -> Reply {
    let _ = shared_pipeline();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let traced = ClientLayer::new().layer(client);
    let request = http::Request::builder()
        .method(method)
        .uri(url)
        .header("user-agent", "layers-test/1.0")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let trace_id = traceweave::current_ids().unwrap().0;
    match traced.oneshot(request).await {
        Ok(response) => {
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            Reply {
                status: Some(status),
                body: String::from_utf8_lossy(&body).into_owned(),
                trace_id,
            }
        }
        Err(e) => Reply {
            status: None,
            body: e.to_string(),
            trace_id,
        },
    }
}

#[tokio::test]
async fn client_server_and_handler_are_one_trace_with_every_attribute() {
    let addr = serve().await;
    let reply = send("GET", format!("http://{addr}/orders/21?token=secret")).await;
    assert_eq!(reply.status, Some(StatusCode::OK));
    assert_eq!(reply.body, "42");

    let spans = spans_of(reply.trace_id);
    let root = spans.iter().find(|s| s.name == "send").unwrap();
    let client = one(&spans, SpanKind::Client);
    let server = one(&spans, SpanKind::Server);
    let work = spans.iter().find(|s| s.name == "load_order").unwrap();
    assert_eq!(client.parent_span_id, root.span_id);
    assert_eq!(
        server.parent_span_id, client.span_id,
        "injected and extracted"
    );
    assert!(server.parent_is_remote);
    assert_eq!(work.parent_span_id, server.span_id);

    assert_eq!(client.name, "GET");
    assert_eq!(attr(client, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(
        attr(client, "url.full"),
        Some(format!("http://{addr}/orders/21?token=REDACTED"))
    );
    assert_eq!(attr(client, "server.address").as_deref(), Some("127.0.0.1"));
    let port = addr.rsplit_once(':').unwrap().1.to_owned();
    assert_eq!(attr(client, "server.port"), Some(port.clone()));
    assert_eq!(
        attr(client, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert!(!client.status.is_error());

    assert_eq!(server.name, "GET /orders/{id}");
    for (key, value) in [
        ("http.request.method", "GET"),
        ("http.route", "/orders/{id}"),
        ("url.path", "/orders/21"),
        ("url.scheme", "http"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("client.address", "127.0.0.1"),
        ("network.protocol.version", "1.1"),
        ("user_agent.original", "layers-test/1.0"),
        ("http.response.status_code", "200"),
        ("order.id", "21"),
    ] {
        assert_eq!(attr(server, key).as_deref(), Some(value), "{key}");
    }
    assert!(attr(server, "url.query").is_none(), "off by default");
    assert!(attr(server, "error.type").is_none());
    assert!(!server.status.is_error());
}

#[tokio::test]
async fn the_query_is_recorded_when_asked() {
    let addr = serve().await;
    let reply = send("GET", format!("http://{addr}/search?q=books")).await;
    assert_eq!(reply.body, "found");
    let spans = spans_of(reply.trace_id);
    let server = one(&spans, SpanKind::Server);
    assert_eq!(server.name, "GET /search");
    assert_eq!(attr(server, "url.query").as_deref(), Some("q=books"));
}

#[tokio::test]
async fn client_errors_fail_the_client_span_and_server_errors_both() {
    let addr = serve().await;
    for (code, server_fails) in [(404, false), (429, false), (500, true), (503, true)] {
        let reply = send("POST", format!("http://{addr}/status/{code}")).await;
        assert_eq!(reply.status.map(|s| s.as_u16()), Some(code));
        let spans = spans_of(reply.trace_id);
        let client = one(&spans, SpanKind::Client);
        let server = one(&spans, SpanKind::Server);
        assert!(
            client.status.is_error(),
            "{code}: a client fails on 4xx and 5xx"
        );
        assert_eq!(attr(client, "error.type"), Some(code.to_string()));
        assert_eq!(server.status.is_error(), server_fails, "{code}");
        assert_eq!(
            attr(server, "error.type"),
            server_fails.then(|| code.to_string()),
            "{code}"
        );
        assert_eq!(
            attr(server, "http.response.status_code"),
            Some(code.to_string())
        );
        assert_eq!(server.name, "POST /status/{code}");
    }
}

#[tokio::test]
async fn unknown_methods_are_recorded_as_other() {
    let addr = serve().await;
    let reply = send("PURGE", format!("http://{addr}/status/204")).await;
    assert_eq!(reply.status, Some(StatusCode::NO_CONTENT));
    let spans = spans_of(reply.trace_id);
    for span in [one(&spans, SpanKind::Client), one(&spans, SpanKind::Server)] {
        assert_eq!(attr(span, "http.request.method").as_deref(), Some("_OTHER"));
        assert_eq!(
            attr(span, "http.request.method_original").as_deref(),
            Some("PURGE")
        );
    }
    assert_eq!(one(&spans, SpanKind::Client).name, "HTTP");
    assert_eq!(one(&spans, SpanKind::Server).name, "HTTP /status/{code}");
}

#[tokio::test]
async fn the_server_span_covers_the_streamed_body() {
    let addr = serve().await;
    let reply = send("GET", format!("http://{addr}/slow")).await;
    assert_eq!(reply.body, "chunkchunkchunk");
    let spans = spans_of(reply.trace_id);
    let server = one(&spans, SpanKind::Server);
    let client = one(&spans, SpanKind::Client);
    let took = |s: &SpanRecord| Duration::from_nanos(s.end_time_unix_nano - s.start_time_unix_nano);
    // The handler returns at once; the three chunks take 120 ms.
    assert!(
        took(server) >= Duration::from_millis(110),
        "{:?}",
        took(server)
    );
    assert!(
        took(client) >= Duration::from_millis(110),
        "{:?}",
        took(client)
    );
}

#[tokio::test]
async fn a_refused_connection_fails_the_client_span() {
    // A port nothing listens on: bound, then closed.
    let port = traceweave_tests::free_port();
    let reply = send("GET", format!("http://127.0.0.1:{port}/")).await;
    assert!(reply.status.is_none());
    let spans = spans_of(reply.trace_id);
    let client = one(&spans, SpanKind::Client);
    assert!(client.status.is_error());
    assert!(
        attr(client, "error.type").unwrap().contains("hyper_util"),
        "{:?}",
        attr(client, "error.type")
    );
    assert!(attr(client, "http.response.status_code").is_none());
}

/// The same request through reqwest with `TracingMiddleware`.
#[traced(root)]
async fn send_with_reqwest(url: String) -> (Option<StatusCode>, String, TraceId) {
    let _ = shared_pipeline();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(traceweave::integrations::reqwest::TracingMiddleware::new())
        .build();
    let trace_id = traceweave::current_ids().unwrap().0;
    match client.get(url).send().await {
        Ok(response) => {
            let status = response.status();
            (Some(status), response.text().await.unwrap(), trace_id)
        }
        Err(e) => (None, e.to_string(), trace_id),
    }
}

#[tokio::test]
async fn reqwest_through_the_middleware_is_one_trace_with_the_server() {
    let addr = serve().await;
    let (status, body, trace_id) = send_with_reqwest(format!("http://{addr}/orders/5")).await;
    assert_eq!((status, body.as_str()), (Some(StatusCode::OK), "10"));
    let spans = spans_of(trace_id);
    let client = one(&spans, SpanKind::Client);
    let server = one(&spans, SpanKind::Server);
    assert_eq!(
        server.parent_span_id, client.span_id,
        "injected and extracted"
    );
    assert_eq!(client.name, "GET");
    let port = addr.rsplit_once(':').unwrap().1.to_owned();
    for (key, value) in [
        ("http.request.method", "GET"),
        ("url.full", format!("http://{addr}/orders/5").as_str()),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("network.protocol.version", "1.1"),
        ("http.response.status_code", "200"),
    ] {
        assert_eq!(attr(client, key).as_deref(), Some(value), "{key}");
    }
    assert!(!client.status.is_error());

    let (status, _, trace_id) = send_with_reqwest(format!("http://{addr}/status/404")).await;
    assert_eq!(status, Some(StatusCode::NOT_FOUND));
    let spans = spans_of(trace_id);
    let client = one(&spans, SpanKind::Client);
    assert!(client.status.is_error(), "a client span fails on 4xx");
    assert_eq!(attr(client, "error.type").as_deref(), Some("404"));
    assert!(!one(&spans, SpanKind::Server).status.is_error());

    let port = traceweave_tests::free_port();
    let (status, _, trace_id) = send_with_reqwest(format!("http://127.0.0.1:{port}/")).await;
    assert!(status.is_none());
    let spans = spans_of(trace_id);
    let client = one(&spans, SpanKind::Client);
    assert!(client.status.is_error());
    assert_eq!(attr(client, "error.type").as_deref(), Some("connect"));
}

const SECRETS: [&str; 4] = [
    "SIG-SECRET-1",
    "KEY-SECRET-2",
    "TOKEN-SECRET-3",
    "PW-SECRET-4",
];

/// Every exported attribute, event and status of a trace, as text.
fn everything_exported(spans: &[SpanRecord]) -> String {
    spans
        .iter()
        .map(|s| format!("{:?} {:?} {:?}", s.attributes, s.events, s.status))
        .collect()
}

fn assert_no_secret(spans: &[SpanRecord], what: &str) {
    let text = everything_exported(spans);
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what}: {secret} leaked: {text}");
    }
}

/// A signed URL, an API key, an access token (any case) and credentials: none of their values
/// reaches any exported attribute or status, through either client, on success or on a refused
/// connection (whose error text quotes the URL); the server's recorded query is redacted alike.
#[tokio::test]
async fn no_secret_of_a_url_reaches_any_span() {
    let addr = serve().await;
    let query =
        "X-Amz-Signature=SIG-SECRET-1&api_key=KEY-SECRET-2&Access_Token=TOKEN-SECRET-3&page=2";
    let redacted = "X-Amz-Signature=REDACTED&api_key=REDACTED&Access_Token=REDACTED&page=2";

    let reply = send("GET", format!("http://{addr}/search?{query}")).await;
    assert_eq!(reply.status, Some(StatusCode::OK));
    let spans = spans_of(reply.trace_id);
    assert_no_secret(&spans, "ClientLayer");
    let client = one(&spans, SpanKind::Client);
    assert_eq!(
        attr(client, "url.full").unwrap(),
        format!("http://{addr}/search?{redacted}")
    );
    let server = one(&spans, SpanKind::Server);
    assert_eq!(attr(server, "url.query").unwrap(), redacted);

    let (status, _, trace_id) =
        send_with_reqwest(format!("http://user:PW-SECRET-4@{addr}/search?{query}")).await;
    assert_eq!(status, Some(StatusCode::OK));
    let spans = spans_of(trace_id);
    assert_no_secret(&spans, "reqwest");
    // reqwest moves `user:password@` into an Authorization header before any middleware.
    assert_eq!(
        attr(one(&spans, SpanKind::Client), "url.full").unwrap(),
        format!("http://{addr}/search?{redacted}")
    );

    // Nothing listens there: the error texts quote the URL.
    let refused = format!("127.0.0.1:{}", traceweave_tests::free_port());
    let reply = send("GET", format!("http://{refused}/x?{query}")).await;
    assert_eq!(reply.status, None);
    let spans = spans_of(reply.trace_id);
    assert!(one(&spans, SpanKind::Client).status.is_error());
    assert_no_secret(&spans, "ClientLayer, refused");
    let (status, error, trace_id) =
        send_with_reqwest(format!("http://user:PW-SECRET-4@{refused}/x?{query}")).await;
    assert_eq!(status, None);
    assert!(
        error.contains("TOKEN-SECRET-3"),
        "reqwest's own text quotes it: {error}"
    );
    let spans = spans_of(trace_id);
    let client = one(&spans, SpanKind::Client);
    assert!(client.status.is_error());
    assert_no_secret(&spans, "reqwest, refused");
}
