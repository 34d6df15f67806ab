//! Loads a running `traceweave-view serve` over OTLP/HTTP protobuf and times its API: the
//! figures in the viewer's README.
//!
//! ```text
//! cargo build --release -p traceweave-view --bin traceweave-view --example load
//! target/release/traceweave-view serve --otlp 127.0.0.1:14318 --ui 127.0.0.1:16699 &
//! target/release/examples/load --otlp http://127.0.0.1:14318 --ui http://127.0.0.1:16699 \
//!     --spans 1000000
//! ```
//!
//! Spans come in traces of 10 (a server span, a client call to another of 5 services with its
//! server span, internal and database spans), 1 % failed, 4-6 attributes each, in requests of
//! `--batch` spans (default 1000) sent by `--clients` threads (default 2). All requests are
//! encoded before the clock starts, so the figure is the receiver's: decode, store, index.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

const SERVICES: [&str; 5] = ["gateway", "inventory", "orders", "payments", "mailer"];

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

/// A deterministic pseudo-random stream (xorshift), so runs compare.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One request of `traces` traces of 10 spans, grouped by service as an SDK would send them.
fn request(first_trace: u64, traces: u64, now: u64, rng: &mut Rng) -> Vec<u8> {
    let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES.len()];
    for t in first_trace..first_trace + traces {
        let trace_id = {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&rng.next().to_be_bytes());
            id[8..].copy_from_slice(&t.to_be_bytes());
            id.to_vec()
        };
        let caller = (t % 5) as usize;
        let callee = ((t + 1) % 5) as usize;
        let start = now - (traces - (t - first_trace)) * 1_000_000;
        let total = 2_000_000 + rng.next() % 50_000_000;
        let failed = t % 100 == 7;
        let mut push = |service: usize,
                        n: u64,
                        parent: u64,
                        name: &str,
                        kind: i32,
                        offset: u64,
                        dur: u64,
                        attrs: Vec<KeyValue>| {
            by_service[service].push(Span {
                trace_id: trace_id.clone(),
                span_id: ((t << 8) | n).to_be_bytes().to_vec(),
                parent_span_id: if parent == 0 {
                    Vec::new()
                } else {
                    ((t << 8) | parent).to_be_bytes().to_vec()
                },
                name: name.into(),
                kind,
                start_time_unix_nano: start + offset,
                end_time_unix_nano: start + offset + dur,
                attributes: attrs,
                status: Some(Status {
                    code: if failed && n >= 4 { 2 } else { 0 },
                    message: if failed && n >= 4 {
                        "stock table locked".into()
                    } else {
                        String::new()
                    },
                }),
                ..Default::default()
            });
        };
        let route = ["/checkout", "/cart", "/orders/{id}", "/items"][(t % 4) as usize];
        let http = |code: i64| {
            vec![
                kv("http.request.method", s("POST")),
                kv("http.route", s(route)),
                kv(
                    "http.response.status_code",
                    any_value::Value::IntValue(code),
                ),
                kv("user.id", any_value::Value::IntValue((t % 5000) as i64)),
            ]
        };
        let code = if failed { 500 } else { 200 };
        push(
            caller,
            1,
            0,
            &format!("POST {route}"),
            2,
            0,
            total,
            http(code),
        );
        push(
            caller,
            2,
            1,
            "validate",
            1,
            100_000,
            300_000,
            vec![kv("cart.items", any_value::Value::IntValue(3))],
        );
        push(
            caller,
            3,
            1,
            "Reserve",
            3,
            500_000,
            total - 1_000_000,
            vec![
                kv("rpc.system", s("grpc")),
                kv("server.address", s(SERVICES[callee])),
            ],
        );
        push(
            callee,
            4,
            3,
            "Reserve",
            2,
            700_000,
            total - 1_500_000,
            vec![kv("rpc.system", s("grpc")), kv("rpc.method", s("Reserve"))],
        );
        for n in 5..9u64 {
            push(
                callee,
                n,
                4,
                "SELECT stock",
                3,
                800_000 + n * 10_000,
                200_000,
                vec![
                    kv("db.system.name", s("postgresql")),
                    kv("db.operation.name", s("SELECT")),
                    kv("db.collection.name", s("stock")),
                ],
            );
        }
        push(
            callee,
            9,
            4,
            "serialize",
            1,
            total - 900_000,
            100_000,
            vec![kv("bytes", any_value::Value::IntValue(512))],
        );
        push(
            caller,
            10,
            1,
            "render",
            1,
            total - 400_000,
            300_000,
            vec![kv("template", s("receipt"))],
        );
    }
    let resource_spans = by_service
        .into_iter()
        .enumerate()
        .filter(|(_, spans)| !spans.is_empty())
        .map(|(i, spans)| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s(SERVICES[i])),
                    kv("service.version", s("1.4.2")),
                    kv("host.name", s("load-host")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }.encode_to_vec()
}

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

fn median_ms(agent: &ureq::Agent, url: &str) -> (f64, usize) {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..7 {
        let t = Instant::now();
        let body = agent
            .get(url)
            .call()
            .expect(url)
            .body_mut()
            .read_to_string()
            .expect("body");
        times.push(t.elapsed().as_secs_f64() * 1e3);
        size = body.len();
    }
    times.sort_by(f64::total_cmp);
    (times[3], size)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let otlp = arg(&args, "--otlp").expect("--otlp URL of traceweave-view serve");
    let ui = arg(&args, "--ui").expect("--ui URL of traceweave-view serve");
    let spans: u64 = arg(&args, "--spans").map_or(1_000_000, |v| v.parse().expect("--spans N"));
    let batch: u64 = arg(&args, "--batch").map_or(1000, |v| v.parse().expect("--batch N"));
    let clients: usize = arg(&args, "--clients").map_or(2, |v| v.parse().expect("--clients N"));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let traces_per_request = (batch / 10).max(1);
    let requests = spans / (traces_per_request * 10);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let t = Instant::now();
    let bodies: Vec<Vec<u8>> = (0..requests)
        .map(|r| {
            request(
                1 + r * traces_per_request,
                traces_per_request,
                now - (requests - r) * 200_000_000,
                &mut rng,
            )
        })
        .collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    eprintln!(
        "encoded {} requests ({} spans, {:.1} MB) in {:.1?}",
        requests,
        requests * traces_per_request * 10,
        bytes as f64 / 1e6,
        t.elapsed()
    );

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let url = format!("{otlp}/v1/traces");
    let t = Instant::now();
    let ingesting = std::sync::atomic::AtomicBool::new(true);
    let mut during: Vec<f64> = Vec::new();
    std::thread::scope(|scope| {
        // The trace list asked every 50 ms while the senders run: what a user waits for.
        let probe = scope.spawn(|| {
            let mut times = Vec::new();
            let list = format!("{ui}/api/traces?limit=100");
            while ingesting.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                let _ = agent
                    .get(&list)
                    .call()
                    .map(|mut r| r.body_mut().read_to_string());
                times.push(t.elapsed().as_secs_f64() * 1e3);
                std::thread::sleep(Duration::from_millis(50));
            }
            times
        });
        let senders: Vec<_> = (0..clients)
            .map(|c| {
                let (agent, url, bodies) = (agent.clone(), url.clone(), &bodies);
                scope.spawn(move || {
                    for body in bodies.iter().skip(c).step_by(clients) {
                        agent
                            .post(&url)
                            .header("content-type", "application/x-protobuf")
                            .send(&body[..])
                            .expect("export");
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().expect("a sender");
        }
        ingesting.store(false, std::sync::atomic::Ordering::Relaxed);
        during = probe.join().expect("the probe");
    });
    let elapsed = t.elapsed();
    during.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        during[((p / 100.0 * during.len() as f64).ceil() as usize).clamp(1, during.len()) - 1]
    };
    if !during.is_empty() {
        println!(
            "trace list while ingesting ({} requests, every 50 ms): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            during.len(),
            pct(50.0),
            pct(99.0),
            during[during.len() - 1]
        );
    }
    let sent = requests * traces_per_request * 10;
    println!(
        "ingest: {sent} spans in {:.2} s = {:.0} spans/s over OTLP/HTTP protobuf ({clients} clients, {batch} spans per request)",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64()
    );

    let stored: serde_json::Value = serde_json::from_str(
        &agent
            .get(&format!("{ui}/api/stats"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    println!("stored: {} spans", stored["spans"]);
    let some_trace = {
        let body = agent
            .get(&format!("{ui}/api/traces?limit=1"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v[0]["trace_id"].as_str().unwrap().to_owned()
    };
    println!("| query (median of 7) | ms | response bytes |\n|---|---:|---:|");
    for (what, path) in [
        ("newest 100 traces", "/api/traces?limit=100".to_owned()),
        ("service", "/api/traces?service=payments".to_owned()),
        (
            "service + operation",
            "/api/traces?service=payments&operation=SELECT+stock".to_owned(),
        ),
        ("errors only", "/api/traces?error=true".to_owned()),
        (
            "attribute key=value",
            "/api/traces?attr=http.route%3D%2Fcart".to_owned(),
        ),
        ("min duration 40 ms", "/api/traces?min_ms=40".to_owned()),
        (
            "trace id prefix",
            format!("/api/traces?trace_id={}", &some_trace[..10]),
        ),
        ("one trace's spans", format!("/api/traces/{some_trace}")),
        (
            "service map, last 15 min",
            "/api/map?window_s=900".to_owned(),
        ),
        ("service map, everything", "/api/map?window_s=0".to_owned()),
    ] {
        let (ms, size) = median_ms(&agent, &format!("{ui}{path}"));
        println!("| {what} (`{path}`) | {ms:.1} | {size} |");
    }
}
