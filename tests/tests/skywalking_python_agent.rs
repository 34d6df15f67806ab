//! The Apache SkyWalking Python agent (`apache-skywalking` 1.2.0, its http.server and urllib
//! plugins; `tests/peers/skywalking_agent_service.py`) and a traceweave service call each other
//! over HTTP with `sw8`, both directions, the agent reporting with its gRPC reporter in one run
//! and its HTTP reporter in another, traceweave configured by the same `SW_AGENT_*` variables
//! (HTTP protocol here; the Rust-peer test covers gRPC). All of it goes to a receiver built on the
//! official protocol definitions, and what the OAP needs to join the trace is checked there.

use std::time::Duration;

use http_body_util::Empty;
use tower::Layer;
use traceweave::integrations::http::{ClientLayer, ServerLayer};
use traceweave::traced;
use traceweave_tests::http_client;
use traceweave_tests::skywalking_oap::{Oap, check_joins, start_peer};

/// The Python agent's service, stopped (its queue flushed) when dropped.
#[derive(Debug)]
struct AgentService {
    child: std::process::Child,
    port: u16,
}

impl AgentService {
    fn start(python: &std::path::Path, name: &str, oap: String, protocol: &str) -> AgentService {
        let (child, line) = start_peer(python, "skywalking_agent_service.py", |c| {
            c.env("SW_AGENT_NAME", name)
                .env("SW_AGENT_INSTANCE_NAME", format!("{name}-1"))
                .env("SW_AGENT_COLLECTOR_BACKEND_SERVICES", oap)
                .env("SW_AGENT_PROTOCOL", protocol)
                .env("SW_AGENT_AUTHENTICATION", "py-token")
                .env("SW_AGENT_LOG_REPORTER_ACTIVE", "false")
                .env("SW_AGENT_METER_REPORTER_ACTIVE", "false")
                .env("SW_AGENT_PVM_METER_REPORTER_ACTIVE", "false")
                .env("SW_AGENT_LOGGING_LEVEL", "ERROR")
        });
        let port = line
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the agent's service said {line:?}"));
        AgentService { child, port }
    }
}

impl Drop for AgentService {
    fn drop(&mut self) {
        // Closing stdin stops the agent; a stuck one is killed after 10 s.
        drop(self.child.stdin.take());
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// traceweave calls the agent's `/back` through `ClientLayer` (sw8 injected).
async fn call_back(port: u16) {
    let client = ClientLayer::new().layer(http_client());
    let req = http::Request::get(format!("http://127.0.0.1:{port}/back"))
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = tower::ServiceExt::oneshot(client, req).await.unwrap();
    assert_eq!(resp.status(), 200);
}

/// A trace that starts in traceweave.
#[traced(root)]
async fn tw_job(port: u16) -> traceweave::TraceId {
    call_back(port).await;
    traceweave::current_ids().unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_skywalking_python_agent_and_traceweave_join_in_one_trace_with_either_reporter() {
    let Some(py) = traceweave_tests::python() else {
        return;
    };
    let oap = Oap::start(&py);
    // traceweave by the agents' variables alone: name, instance, OAP, protocol, token.
    let vars = [
        ("SW_AGENT_NAME", "tw-checkout".to_owned()),
        ("SW_AGENT_INSTANCE_NAME", "tw-checkout-1".to_owned()),
        (
            "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
            format!("127.0.0.1:{}", oap.http),
        ),
        ("SW_AGENT_PROTOCOL", "http".to_owned()),
        ("SW_AGENT_AUTHENTICATION", "tw-token".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "20".to_owned()),
    ];
    for (k, v) in &vars {
        // SAFETY: this test binary has one test, and nothing else reads the environment now.
        unsafe { std::env::set_var(k, v) };
    }
    let guard = traceweave::builder().install().unwrap();

    let grpc_agent = AgentService::start(&py, "py-grpc", format!("127.0.0.1:{}", oap.grpc), "grpc");
    let http_agent = AgentService::start(&py, "py-http", format!("127.0.0.1:{}", oap.http), "http");

    // traceweave's service: /tw calls back the agent named in the query.
    let tw = axum::Router::new()
        .route(
            "/tw",
            axum::routing::get(|uri: http::Uri| async move {
                let back = uri.query().and_then(|q| q.strip_prefix("back="));
                call_back(back.and_then(|p| p.parse().ok()).expect("?back=PORT")).await;
                "ok"
            }),
        )
        .layer(ServerLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tw_port = listener.local_addr().unwrap().port();
    tokio::spawn(axum::serve(listener, tw).into_future());

    let mut traces = Vec::new();
    for agent in [&grpc_agent, &http_agent] {
        // 1. The agent's trace: /start -> traceweave /tw -> the agent's /back.
        let to = format!("http://127.0.0.1:{tw_port}/tw?back={}", agent.port);
        let url = format!(
            "http://127.0.0.1:{}/start?to={}",
            agent.port,
            to.replace('?', "%3F").replace('=', "%3D")
        );
        let resp = http_client()
            .request(
                http::Request::get(url)
                    .body(Empty::<bytes::Bytes>::new())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        // 2. traceweave's trace: a root here -> the agent's /back.
        let tw_trace = tw_job(agent.port).await.to_string();
        traces.push((agent.port, tw_trace));
    }
    assert!(traceweave::force_flush().is_ok());
    drop(grpc_agent);
    drop(http_agent);

    let received = oap.wait_for(|r| {
        let segs = r["segments"].as_array().unwrap();
        ["py-grpc", "py-http"].iter().all(|svc| {
            // Each agent: /start (with its exit) and /back twice.
            segs.iter().filter(|s| s["service"] == *svc).count() >= 3
        })
    });
    drop(guard);
    assert!(
        received["errors"].as_array().unwrap().is_empty(),
        "{received}"
    );
    let segments = received["segments"].as_array().unwrap();
    for (svc, via) in [("py-grpc", "grpc"), ("py-http", "http")] {
        // The agent's own trace: the one its /start segment carries.
        let start = segments
            .iter()
            .find(|s| {
                s["service"] == svc
                    && s["spans"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|sp| sp["operationName"] == "/start")
            })
            .unwrap_or_else(|| panic!("no /start segment of {svc}: {received}"));
        // (The agent reads SW_AGENT_AUTHENTICATION but 1.2.0 sends it with no call.)
        assert_eq!(start["_via"], via);
        let trace = start["traceId"].as_str().unwrap();
        check_joins(&received, trace, &[svc, "tw-checkout"], 2);
    }
    for (_, trace) in &traces {
        let agent = segments
            .iter()
            .find(|s| s["traceId"] == trace.as_str() && s["service"] != "tw-checkout")
            .unwrap_or_else(|| panic!("the agent reported nothing of {trace}: {received}"));
        check_joins(
            &received,
            trace,
            &[agent["service"].as_str().unwrap(), "tw-checkout"],
            1,
        );
    }
    for seg in segments.iter().filter(|s| s["service"] == "tw-checkout") {
        assert_eq!(
            (&seg["_via"], &seg["_auth"]),
            (&"http".into(), &"tw-token".into())
        );
        assert_eq!(seg["serviceInstance"], "tw-checkout-1");
    }
    let props = received["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["service"] == "tw-checkout")
        .unwrap_or_else(|| panic!("no properties of tw-checkout: {received}"));
    assert_eq!(props["serviceInstance"], "tw-checkout-1");
    assert_eq!(props["_auth"], "tw-token");
}
