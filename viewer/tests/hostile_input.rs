//! `traceweave-view serve` meets hostile and heavy input and holds: the real binary over
//! loopback HTTP, its peak RSS read from `/proc` and its files measured. Each request costs
//! memory and disk within a small constant factor of its size; the UI answers only loopback
//! `Host`s; one process per `--db` file; a failed write leaves no trace of itself.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use traceweave_view::{Retention, SpanRow, Store, server};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `traceweave-view serve` child, killed when dropped.
struct Serve {
    child: Child,
    otlp: u16,
    ui: u16,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Serve {
    let (otlp, ui) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_traceweave-view"))
        .args(["serve", "--otlp", &format!("127.0.0.1:{otlp}")])
        .args(["--ui", &format!("127.0.0.1:{ui}")])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It prints three lines once it listens.
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while seen.iter().filter(|&&b| b == b'\n').count() < 3 && out.read(&mut byte).unwrap_or(0) == 1
    {
        seen.push(byte[0]);
    }
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Serve { child, otlp, ui }
}

/// Peak resident memory of a process, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// One raw HTTP/1.1 request; the status and body.
fn request(port: u16, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let text = String::from_utf8_lossy(&reply).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

fn post(port: u16, path: &str, headers: &str, body: &[u8]) -> (u16, String) {
    request(
        port,
        &format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"),
        body,
    )
}

fn get(port: u16, path: &str, host: &str) -> (u16, String) {
    request(port, &format!("GET {path} HTTP/1.1\r\nHost: {host}"), b"")
}

fn kv(key: &str, v: String) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v)),
        }),
        ..Default::default()
    }
}

/// One 1 MiB `service.name` and `spans` tiny spans of trace `trace`.
fn amplifying(trace: u8, spans: u32) -> Vec<u8> {
    let spans = (0..spans)
        .map(|i| Span {
            trace_id: vec![trace; 16],
            span_id: (u64::from(i) + 1).to_be_bytes().to_vec(),
            name: "s".into(),
            start_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(trace) * 1_000_000_000,
            end_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(trace) * 1_000_000_000 + 1,
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "m".repeat(1 << 20))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tw-view-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn files_size(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(PathBuf::from(p)).map_or(0, |m| m.len())
        })
        .sum()
}

/// The invariant: every request costs memory and disk within a small constant factor of its
/// size. A gzip bomb (1 MiB holding 1 GiB) and a zstd one are refused at the body limit; twenty 1.1 MB requests
/// that each name a 1 MiB service for 1,000 spans (sendable from any web page as a `text/plain`
/// POST) store 1,000 spans each and no 1 GiB copies.
#[test]
fn bombs_and_amplifying_requests_cost_a_bounded_multiple_of_their_size() {
    let d = dir("bounds");
    let db = d.join("spans.db");
    let s = serve(&["--db", db.to_str().unwrap()]);
    let idle = peak_rss(s.child.id());

    // 1 GiB of zeros, gzipped and in zstd (whose frame asks for a window within the limit):
    // each refused when its output passes the limit.
    let zeros = vec![0u8; 1 << 30];
    let bomb = gzip(&zeros);
    let zstd_bomb = zstd::encode_all(&zeros[..], 3).unwrap();
    drop(zeros);
    for (encoding, body) in [("gzip", &bomb), ("zstd", &zstd_bomb)] {
        assert!(
            body.len() < 2 << 20,
            "{} {encoding} bytes hold 1 GiB",
            body.len()
        );
        let (status, why) = post(
            s.otlp,
            "/v1/traces",
            &format!("Content-Type: application/x-protobuf\r\nContent-Encoding: {encoding}"),
            body,
        );
        assert_eq!(status, 413, "{why}");
        assert!(
            why.contains(&format!("the {encoding} body inflates past 16 MiB")),
            "{why}"
        );
    }

    let mut sent = 0usize;
    for trace in 1..=20u8 {
        let body = amplifying(trace, 1000);
        sent += body.len();
        let t = Instant::now();
        let (status, why) = post(s.otlp, "/v1/traces", "Content-Type: text/plain", &body);
        assert_eq!(status, 200, "{why}");
        eprintln!(
            "request {trace}: {} bytes stored in {:?}",
            body.len(),
            t.elapsed()
        );
    }
    let (_, stats) = get(s.ui, "/api/stats", "localhost");
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["spans"], 20_000);
    let peak = peak_rss(s.child.id());
    let disk = files_size(&db);
    eprintln!(
        "sent {sent} bytes (and a {} byte bomb): peak RSS {} MiB (idle {} MiB), files {} MiB, \
         span data {} MiB",
        bomb.len(),
        peak >> 20,
        idle >> 20,
        disk >> 20,
        stats["bytes"].as_u64().unwrap() >> 20
    );
    // One request in flight at a time: what it costs above idle, against its own 1.1 MB.
    let request = sent / 20;
    assert!(
        peak - idle < 40 * request as u64,
        "peak RSS grew {} bytes for {request}-byte requests",
        peak - idle
    );
    // Everything stored, against everything sent (the old layout: 20 GiB).
    assert!(
        disk < 4 * sent as u64,
        "{disk} bytes on disk for {sent} sent"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn retention_by_bytes_holds_the_files_and_the_count() {
    let d = dir("bytes");
    let db = d.join("spans.db");
    let s = serve(&["--db", db.to_str().unwrap(), "--retain-bytes", "8M"]);
    for trace in 1..=40u8 {
        let (status, why) = post(
            s.otlp,
            "/v1/traces",
            "Content-Type: application/x-protobuf",
            &amplifying(trace, 1000),
        );
        assert_eq!(status, 200, "{why}");
    }
    let (_, stats) = get(s.ui, "/api/stats", "localhost");
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    let bytes = stats["bytes"].as_u64().unwrap();
    assert!(bytes <= 8 << 20, "{bytes} bytes kept");
    assert!(stats["spans"].as_u64().unwrap() < 40_000, "{stats}");
    let (_, list) = get(s.ui, "/api/traces?limit=1000", "localhost");
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let newest = list[0]["trace_id"].as_str().unwrap();
    assert_eq!(newest, "28".repeat(16), "the newest trace kept");
    let disk = files_size(&db);
    assert!(disk < 64 << 20, "{disk} bytes on disk for an 8 MiB bound");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_ui_answers_loopback_hosts_only() {
    let s = serve(&["--allow-host", "viewer.lan"]);
    for host in [
        "localhost",
        "127.0.0.1",
        &format!("localhost:{}", 1),
        "[::1]",
        "viewer.lan",
    ] {
        let (status, _) = get(s.ui, "/api/traces", host);
        assert_eq!(status, 200, "{host}");
    }
    for host in [
        "evil.example",
        "evil.example:16686",
        "127.0.0.1.evil.example",
    ] {
        let (status, why) = get(s.ui, "/api/traces", host);
        assert_eq!(status, 403, "{host}");
        assert!(why.contains("--allow-host"), "{why}");
        let (status, _) = get(s.ui, "/", host);
        assert_eq!(status, 403, "{host}: the page too");
    }
    // Extreme numbers saturate, keys of any bytes are valid filters.
    for query in [
        "/api/map?window_s=9223372036854775807",
        "/api/map?window_s=-9223372036854775808",
        "/api/map?from_ns=-9223372036854775808&to_ns=9223372036854775807",
        "/api/traces?min_ms=1e308&max_ms=-1e308",
        "/api/traces?attr=a%5Cb%22c%3D1",
        "/api/traces?since_ns=9223372036854775807&until_ns=-9223372036854775808",
    ] {
        let (status, why) = get(s.ui, query, "localhost");
        assert_eq!(status, 200, "{query}: {why}");
    }
}

#[test]
fn a_second_process_on_one_db_file_is_told_which_holds_it() {
    let d = dir("lock");
    let db = d.join("spans.db");
    let first = serve(&["--db", db.to_str().unwrap()]);
    let out = Command::new(env!("CARGO_BIN_EXE_traceweave-view"))
        .args(["serve", "--otlp", "127.0.0.1:0", "--ui", "127.0.0.1:0"])
        .args(["--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in use by another traceweave-view")
            && err.contains(&format!("process {}", first.child.id())),
        "{err}"
    );
    drop(first);
    // Once it is gone, the file opens again.
    let again = serve(&["--db", db.to_str().unwrap()]);
    let (status, _) = get(again.ui, "/api/stats", "localhost");
    assert_eq!(status, 200);
    let _ = std::fs::remove_dir_all(&d);
}

fn row(trace: u32, n: u32, service: &str, resource: &str) -> SpanRow {
    SpanRow {
        trace_id: format!("{trace:032x}"),
        span_id: format!("{:016x}", (u64::from(trace) << 20) | u64::from(n + 1)),
        parent_id: None,
        service: service.into(),
        name: format!("op{n}"),
        kind: 1,
        start_ns: i64::from(trace) * 1_000_000,
        end_ns: i64::from(trace) * 1_000_000 + 1000,
        status: 0,
        status_message: String::new(),
        attributes: serde_json::from_str(r#"{"pad": "0123456789012345678901234567890123456789"}"#)
            .unwrap(),
        events: Vec::new(),
        links: Vec::new(),
        resource: Arc::new(
            serde_json::from_str(&format!(
                r#"{{"service.name": "{service}", "r": "{resource}"}}"#
            ))
            .unwrap(),
        ),
        scope: "lib".into(),
        truncated: 0,
    }
}

/// A write that fails (the disk is full) leaves nothing behind: no trace listed that answers
/// 404, no service listed that has no span, later spans with their own resource; the reply says
/// why.
#[test]
fn a_failed_write_leaves_no_trace_of_itself() {
    let d = dir("full");
    let store = Arc::new(Store::file(&d.join("spans.db"), Retention::default()).unwrap());
    store.insert(&[row(1, 0, "kept", "A")]).unwrap();
    store.fill_disk_after(2).unwrap();
    let big: Vec<SpanRow> = (0..900).map(|n| row(2, n, "lost", "B")).collect();
    let err = store.insert(&big).unwrap_err();
    assert!(err.to_string().contains("full"), "{err}");
    assert_eq!(store.span_count(), 1);
    let services: Vec<String> = store.services().into_iter().map(|s| s.service).collect();
    assert_eq!(services, ["kept"]);
    for t in store.all_traces().unwrap() {
        assert!(
            !store.trace(&t.trace_id).unwrap().is_empty(),
            "{} listed, not stored",
            t.trace_id
        );
    }
    // Over HTTP, the 5xx says why.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let port = rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(server::serve(
            l,
            server::otlp_router(store.clone()),
            std::future::pending(),
        ));
        port
    });
    let (status, why) = post(
        port,
        "/v1/traces",
        "Content-Type: application/x-protobuf",
        &amplifying(3, 900),
    );
    assert_eq!(status, 500);
    assert!(why.contains("span store") && why.contains("full"), "{why}");
    // Room again: a span whose resource the failed writes had tried to add gets its own.
    store.fill_disk_after(100_000).unwrap();
    store.insert(&[row(4, 0, "lost", "B")]).unwrap();
    let spans = store.trace(&format!("{:032x}", 4)).unwrap();
    assert_eq!(spans[0].resource["r"], "B");
    assert_eq!(
        store.trace(&format!("{:032x}", 1)).unwrap()[0].resource["r"],
        "A"
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// While a large request is stored, the UI and the receiver still answer: the write holds the
/// store's lock a chunk at a time, and services and stats never wait for it.
#[test]
fn queries_answer_while_a_large_request_is_stored() {
    let s = serve(&[]);
    let big = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "bulk".into())],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..100_000u64)
                    .map(|i| Span {
                        trace_id: (i / 10 + 1).to_be_bytes().repeat(2),
                        span_id: (i + 1).to_be_bytes().to_vec(),
                        name: format!("op{}", i % 50),
                        start_time_unix_nano: 1_700_000_000_000_000_000 + i,
                        end_time_unix_nano: 1_700_000_000_000_000_000 + i + 10,
                        attributes: vec![kv("k", "v".repeat(100))],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    let otlp = s.otlp;
    let writer = std::thread::spawn(move || {
        post(
            otlp,
            "/v1/traces",
            "Content-Type: application/x-protobuf",
            &big,
        )
    });
    // Once the first chunks are in, ask while the rest is being written.
    let t = Instant::now();
    loop {
        let (_, stats) = get(s.ui, "/api/stats", "localhost");
        let spans = serde_json::from_str::<serde_json::Value>(&stats).unwrap()["spans"]
            .as_u64()
            .unwrap();
        if spans > 0 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "nothing stored");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut answered_during = 0;
    for _ in 0..5 {
        for path in ["/api/services", "/api/stats", "/api/traces?limit=5"] {
            let (status, _) = get(s.ui, path, "localhost");
            assert_eq!(status, 200);
        }
        if !writer.is_finished() {
            answered_during += 1;
        }
    }
    let (status, why) = writer.join().unwrap();
    assert_eq!(status, 200, "{why}");
    assert!(
        answered_during > 0,
        "no query answered while the request was stored"
    );
    let (_, stats) = get(s.ui, "/api/stats", "localhost");
    assert!(stats.contains("\"spans\":100000"), "{stats}");
}
