//! `traceweave-view`'s receiver and API over real loopback HTTP, fed by traceweave's own OTLP
//! exporter (protobuf + gzip, and JSON); the store's retention and persistence; reports.
//! (The OpenTelemetry Python SDK as a third-party sender, and the UI in Chromium, are in
//! `tests/browser/test_viewer.py`, run by `.ci/run`.)

use std::sync::Arc;

use serde_json::Value;
use traceweave::export::{OtlpCompression, OtlpExporter, OtlpProtocol};
use traceweave::traced;
use traceweave_view::{Retention, SpanRow, Store, report, server};

struct Viewer {
    otlp: String,
    ui: String,
    store: Arc<Store>,
    _runtime: tokio::runtime::Runtime,
}

fn start(store: Store) -> Viewer {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = Arc::new(store);
    let (otlp, ui) = runtime.block_on(async {
        let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addrs = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let never = std::future::pending::<()>;
        tokio::spawn(server::serve(
            a,
            server::otlp_router(store.clone()),
            never(),
        ));
        tokio::spawn(server::serve(b, server::ui_router(store.clone()), never()));
        addrs
    });
    Viewer {
        otlp: format!("http://{otlp}"),
        ui: format!("http://{ui}"),
        store,
        _runtime: runtime,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn get(url: &str) -> (u16, Value) {
    let mut r = agent().get(url).call().unwrap();
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut req = agent().post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut r = req.send(body).unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap())
}

#[traced(kind = server, attrs(http.route = "/checkout"))]
fn checkout(fail: bool) -> Result<(), std::io::Error> {
    charge(fail)
}

#[traced(kind = client, attrs(peer.service = "bank"))]
fn charge(fail: bool) -> Result<(), std::io::Error> {
    std::thread::sleep(std::time::Duration::from_millis(2));
    if fail {
        return Err(std::io::Error::other("card declined"));
    }
    Ok(())
}

fn send_two_checkouts(exporter: impl traceweave::Exporter, service: &str) {
    let tracer = traceweave::builder()
        .ignore_env()
        .service_name(service)
        .exporter(exporter)
        .build();
    tracer.in_scope(|| {
        let _ = checkout(false);
        let _ = checkout(true);
    });
    assert!(tracer.force_flush().is_ok());
    let stats = tracer.stats();
    assert_eq!(
        (stats.exported, stats.dropped_export_failed),
        (4, 0),
        "{stats:?}"
    );
}

#[test]
fn zstd_bodies_from_traceweave_are_stored_and_bad_ones_refused() {
    let v = start(Store::memory(Retention::default()).unwrap());
    let zstd = OtlpExporter::new(&v.otlp).compression(OtlpCompression::Zstd);
    send_two_checkouts(zstd, "shop-zstd");
    let (_, all) = get(&format!("{}/api/traces", v.ui));
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().all(|t| t["span_count"] == 2), "{all:?}");
    let url = format!("{}/v1/traces", v.otlp);
    let (status, body) = post(&url, &[("content-encoding", "zstd")], b"not zstd");
    assert_eq!(status, 400);
    assert!(body.contains("bad zstd body"), "{body}");
    assert_eq!(
        v.store.span_count(),
        4,
        "nothing stored from a refused body"
    );
}

#[test]
fn spans_from_traceweave_over_otlp_protobuf_gzip_are_searchable_traces_and_a_map() {
    let v = start(Store::memory(Retention::default()).unwrap());
    send_two_checkouts(OtlpExporter::new(&v.otlp).gzip(true), "shop-test");

    let (_, all) = get(&format!("{}/api/traces", v.ui));
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all.iter()
            .all(|t| t["root_name"] == "checkout" && t["span_count"] == 2)
    );
    assert!(
        all[0]["start_ns"].as_i64() >= all[1]["start_ns"].as_i64(),
        "newest first"
    );

    let count = |q: &str| {
        get(&format!("{}/api/traces?{q}", v.ui))
            .1
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count("error=true"), 1);
    assert_eq!(count("service=shop-test"), 2);
    assert_eq!(count("service=nobody"), 0);
    assert_eq!(count("service=shop-test&operation=charge&error=true"), 1);
    assert_eq!(count("attr=http.route%3D%2Fcheckout"), 2);
    assert_eq!(count("attr=peer.service%3Dbank+http.route%3D%2Fnope"), 0);
    assert_eq!(count("min_ms=1"), 2);
    assert_eq!(count("max_ms=0.5"), 0);
    assert_eq!(count("limit=1"), 1);
    let failed = get(&format!("{}/api/traces?error=true", v.ui)).1[0]["trace_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(count(&format!("trace_id={}", &failed[..8])), 1);

    let (status, spans) = get(&format!("{}/api/traces/{failed}", v.ui));
    assert_eq!(status, 200);
    let spans = spans.as_array().unwrap();
    let (root, child) = (&spans[0], &spans[1]);
    assert_eq!(
        (root["name"].as_str(), child["name"].as_str()),
        (Some("checkout"), Some("charge"))
    );
    assert_eq!(child["parent_id"], root["span_id"]);
    assert_eq!(
        (root["kind"].as_u64(), child["kind"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(child["status"], 2);
    assert_eq!(child["status_message"], "card declined");
    assert_eq!(root["resource"]["service.name"], "shop-test");
    assert_eq!(root["scope"], "traceweave");
    assert!(child["end_ns"].as_i64().unwrap() - child["start_ns"].as_i64().unwrap() >= 2_000_000);

    let (_, map) = get(&format!("{}/api/map?window_s=0", v.ui));
    let edge = &map["edges"][0];
    assert_eq!(
        (edge["from"].as_str(), edge["to"].as_str()),
        (Some("shop-test"), Some("bank"))
    );
    assert_eq!(
        (edge["calls"].as_u64(), edge["errors"].as_u64()),
        (Some(2), Some(1))
    );
    // The charge takes 2 ms and more; the map's percentiles are within 9 % (histograms).
    assert!(edge["p50_ms"].as_f64().unwrap() >= 2.0 * 0.91);
    let bank = map["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["service"] == "bank")
        .unwrap();
    assert_eq!(bank["inferred"], true);

    let (_, services) = get(&format!("{}/api/services", v.ui));
    assert_eq!(services[0]["service"], "shop-test");
    assert_eq!(
        services[0]["operations"],
        serde_json::json!(["charge", "checkout"])
    );
}

#[test]
fn otlp_json_is_received_too_and_bad_bodies_are_refused_with_the_reason() {
    let v = start(Store::memory(Retention::default()).unwrap());
    send_two_checkouts(
        OtlpExporter::new(&v.otlp).protocol(OtlpProtocol::HttpJson),
        "json-test",
    );
    assert_eq!(v.store.span_count(), 4);

    let url = format!("{}/v1/traces", v.otlp);
    let (status, body) = post(
        &url,
        &[("content-type", "application/x-protobuf")],
        b"\xff\xff\xff",
    );
    assert_eq!(status, 400);
    assert!(
        body.contains("not an OTLP ExportTraceServiceRequest"),
        "{body}"
    );
    let (status, body) = post(
        &url,
        &[("content-type", "application/json")],
        b"{\"spans\": 1}",
    );
    assert_eq!(status, 400);
    assert!(body.contains("resourceSpans"), "{body}");
    let (status, body) = post(&url, &[("content-encoding", "gzip")], b"not gzip");
    assert_eq!(status, 400);
    assert!(body.contains("gzip"), "{body}");
    assert_eq!(
        v.store.span_count(),
        4,
        "nothing stored from a refused body"
    );

    let (status, _) = get(&format!("{}/api/traces/{}", v.ui, "ab".repeat(16)));
    assert_eq!(status, 404);
}

#[test]
fn zipkin_senders_and_pages_in_a_browser_can_send_too() {
    let v = start(Store::memory(Retention::default()).unwrap());
    let zipkin = traceweave::export::ZipkinExporter::new(&format!("{}/api/v2/spans", v.otlp));
    send_two_checkouts(zipkin, "zipkin-test");
    let (_, failed) = get(&format!(
        "{}/api/traces?error=true&service=zipkin-test",
        v.ui
    ));
    let id = failed[0]["trace_id"].as_str().unwrap();
    let (_, spans) = get(&format!("{}/api/traces/{id}", v.ui));
    assert_eq!(spans.as_array().unwrap().len(), 2);
    assert_eq!(spans[1]["parent_id"], spans[0]["span_id"]);
    assert_eq!(spans[1]["kind"], 3);

    // A CORS preflight, as a browser sends before an OTLP export from a page.
    let r = agent()
        .options(&format!("{}/v1/traces", v.otlp))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let allowed = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(allowed("access-control-allow-origin").as_deref(), Some("*"));
    assert!(
        allowed("access-control-allow-headers")
            .unwrap()
            .contains("content-type")
    );
    let (status, _) = post(
        &format!("{}/api/v2/spans", v.otlp),
        &[("content-type", "application/x-protobuf")],
        b"\x0a",
    );
    assert_eq!(status, 400, "Zipkin protobuf is refused, not misread");
}

fn span(trace: u32, n: u32, start_ns: i64) -> SpanRow {
    SpanRow {
        trace_id: format!("{trace:032x}"),
        span_id: format!("{:016x}", (u64::from(trace) << 16) | (u64::from(n) + 1)),
        parent_id: (n > 0).then(|| format!("{:016x}", (u64::from(trace) << 16) | 1)),
        service: "svc".into(),
        name: format!("op{n}"),
        kind: 1,
        start_ns,
        end_ns: start_ns + 1_000,
        status: 0,
        status_message: String::new(),
        attributes: Default::default(),
        events: Vec::new(),
        links: Vec::new(),
        resource: std::sync::Arc::new(serde_json::from_str(r#"{"service.name": "svc"}"#).unwrap()),
        scope: String::new(),
        truncated: 0,
    }
}

#[test]
fn retention_drops_the_oldest_traces_and_a_file_store_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("tw-view-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spans.db");
    let _ = std::fs::remove_file(&path);
    let retention = Retention {
        max_spans: 50,
        ..Retention::unbounded()
    };
    {
        let store = Store::file(&path, retention).unwrap();
        for t in 1..=12u32 {
            let spans: Vec<SpanRow> = (0..10)
                .map(|n| span(t, n, i64::from(t) * 1_000_000))
                .collect();
            store.insert(&spans).unwrap();
            assert!(
                store.span_count() <= 50,
                "{} spans kept",
                store.span_count()
            );
        }
        // The same span again replaces itself: no double count.
        store.insert(&[span(12, 3, 12_000_000)]).unwrap();
        let kept = store.search(&Default::default()).unwrap();
        let ids: Vec<u32> = kept
            .iter()
            .map(|t| u32::from_str_radix(&t.trace_id, 16).unwrap())
            .collect();
        assert_eq!(ids.first(), Some(&12), "newest kept and first: {ids:?}");
        assert!(!ids.contains(&1), "oldest dropped: {ids:?}");
        assert_eq!(store.span_count() as usize, ids.len() * 10);
    }
    let reopened = Store::file(&path, retention).unwrap();
    let kept = reopened.search(&Default::default()).unwrap();
    assert_eq!(reopened.span_count() as usize, kept.len() * 10);
    assert_eq!(reopened.trace(&format!("{:032x}", 12)).unwrap().len(), 10);

    // A SQLite file of something else is refused with a reason, not misread.
    let other = dir.join("other.db");
    let _ = std::fs::remove_file(&other);
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE spans(x)")
        .unwrap();
    let err = Store::file(&other, retention).unwrap_err();
    assert!(err.to_string().contains("give another --db file"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Traces are numbered in order of arrival, across restarts: after one, a stored trace takes
/// more spans under its own number and a new trace takes a number no stored trace has.
#[test]
fn a_reopened_file_store_adds_to_its_traces_and_numbers_new_ones_after_them() {
    let dir = std::env::temp_dir().join(format!("tw-view-numbers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spans.db");
    let _ = std::fs::remove_file(&path);
    let id = |t: u32| format!("{t:032x}");
    {
        let store = Store::file(&path, Retention::unbounded()).unwrap();
        for t in 1..=3u32 {
            let spans: Vec<SpanRow> = (0..10)
                .map(|n| span(t, n, i64::from(t) * 1_000_000))
                .collect();
            store.insert(&spans).unwrap();
        }
    }
    let store = Store::file(&path, Retention::unbounded()).unwrap();
    let more: Vec<SpanRow> = (10..15).map(|n| span(2, n, 2_000_000)).collect();
    store.insert(&more).unwrap();
    let new: Vec<SpanRow> = (0..10).map(|n| span(4, n, 4_000_000)).collect();
    store.insert(&new).unwrap();
    for (t, n) in [(1, 10), (2, 15), (3, 10), (4, 10)] {
        assert_eq!(store.trace(&id(t)).unwrap().len(), n, "trace {t}");
    }
    let counts: Vec<(String, i64)> = store
        .search(&Default::default())
        .unwrap()
        .into_iter()
        .map(|t| (t.trace_id, t.span_count))
        .collect();
    assert_eq!(
        counts,
        [(id(4), 10), (id(3), 10), (id(2), 15), (id(1), 10)],
        "each trace's summary counts its own spans"
    );
    assert_eq!(store.span_count(), 45);
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn traces_older_than_the_age_bound_go() {
    let hour = 3_600_000_000_000i64;
    let store = Store::memory(Retention {
        max_age_ns: Some(hour),
        ..Retention::unbounded()
    })
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    store.insert(&[span(1, 0, now - 2 * hour)]).unwrap();
    store.insert(&[span(2, 0, now)]).unwrap();
    let kept: Vec<String> = store
        .search(&Default::default())
        .unwrap()
        .into_iter()
        .map(|t| t.trace_id)
        .collect();
    assert_eq!(kept, [format!("{:032x}", 2)]);
    assert_eq!(store.span_count(), 1);
}

#[test]
fn a_report_inlines_traces_from_otlp_json_lines_and_zipkin_files() {
    let dir = std::env::temp_dir().join(format!("tw-view-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // What traceweave's FileExporter writes: OTLP-JSON lines.
    let otlp = dir.join("spans.jsonl");
    let _ = std::fs::remove_file(&otlp);
    let tracer = traceweave::builder()
        .ignore_env()
        .service_name("file-test")
        .exporter(traceweave::export::FileExporter::create(&otlp).unwrap())
        .build();
    tracer.in_scope(|| {
        let _ = checkout(true);
    });
    assert!(tracer.force_flush().is_ok());
    let zipkin = dir.join("zipkin.json");
    std::fs::write(
        &zipkin,
        r#"[{"traceId":"463ac35c9f6413ad","id":"a2fb4a1d1a96d312","name":"</script><b>x</b>",
            "kind":"SERVER","timestamp":1700000000000000,"duration":1500,
            "localEndpoint":{"serviceName":"zipkin-svc"}}]"#,
    )
    .unwrap();
    let store = report::load_files(&[&otlp, &zipkin]).unwrap();
    assert_eq!(store.span_count(), 3);
    let html = report::html(&store, "test").unwrap();
    let data = html
        .split(r#"<script type="application/json" id="tw-data">"#)
        .nth(1)
        .unwrap();
    assert!(data.starts_with('{'), "the data is inlined");
    assert_eq!(
        html.matches("</script>").count(),
        2,
        "a span name cannot end the script early"
    );
    assert!(data.contains("zipkin-svc") && data.contains("file-test"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "nothing to fetch"
    );

    let err = report::load_files(&[dir.join("missing.json")]).unwrap_err();
    assert!(err.to_string().contains("missing.json"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A query string value, percent-encoded.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The table of search cases the report's JavaScript search is checked against too
/// (`viewer/ui/tests/search.test.js`): the server's SQL search, over HTTP, gives each `expect`.
#[test]
fn the_shared_search_cases_hold_for_the_server() {
    let table: Value =
        serde_json::from_str(include_str!("cases/search.json")).expect("the cases are JSON");
    let v = start(Store::memory(Retention::default()).unwrap());
    let spans: Vec<SpanRow> = table["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut full = serde_json::json!({
                "parent_id": null, "status_message": "", "events": [], "links": [],
                "resource": {"service.name": s["service"]}, "scope": ""
            });
            for (k, val) in s.as_object().unwrap() {
                full[k] = val.clone();
            }
            serde_json::from_value(full).unwrap()
        })
        .collect();
    v.store.insert(&spans).unwrap();
    for case in table["cases"].as_array().unwrap() {
        let query: Vec<String> = case["query"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, val)| format!("{k}={}", encode(val.as_str().unwrap())))
            .collect();
        let url = format!("{}/api/traces?{}", v.ui, query.join("&"));
        let (status, found) = get(&url);
        assert_eq!(status, 200, "{url}: {found}");
        let ids: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["trace_id"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = case["expect"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(ids, want, "{}", case["query"]);
    }
}
