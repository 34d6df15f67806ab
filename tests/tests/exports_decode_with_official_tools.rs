//! Our exporters' bytes, read by official tools: the OpenTelemetry Python `opentelemetry-proto`
//! decoder checks the OTLP protobuf field by field, Zipkin JSON validates against the official
//! `zipkin2-api.yaml`, and OTLP-JSON lines from the file exporter replay into a real collector;
//! what the OTLP exporter sends over HTTP, plain, gzipped and zstd-compressed, is decompressed by
//! Python (`gzip`, `zstandard`) and read by the same decoder.

use std::time::Duration;

use serde_json::Value as Json;
use traceweave::export::{FileExporter, OtlpCompression, OtlpExporter, ZipkinExporter};
use traceweave::testing::Capture;
use traceweave::{
    KeyValue, SpanContext, SpanId, SpanKind, SpanRecord, Status, TraceFlags, TraceId,
};

fn spans() -> (Vec<SpanRecord>, traceweave::Resource) {
    let captured = Capture::new().run(|| {
        let remote = traceweave::Context::new().with_span_context(SpanContext::new(
            TraceId::from_u128(0x4bf92f3577b34da6a3ce929d0e0e4736),
            SpanId::from_u64(0x00f067aa0ba902b7),
            TraceFlags::SAMPLED.union(TraceFlags::RANDOM_TRACE_ID),
            true,
        ));
        let mut server = traceweave::span("GET /orders")
            .kind(SpanKind::Server)
            .parent(&remote)
            .attribute("http.response.status_code", 500)
            .attribute("ratio", 0.5)
            .attribute("ok", false)
            .attribute("tags", vec!["a", "b"])
            .link(
                SpanContext::new(
                    TraceId::from_u128(7),
                    SpanId::from_u64(9),
                    TraceFlags::SAMPLED,
                    true,
                ),
                vec![],
            )
            .start();
        server.add_event(
            "exception",
            vec![KeyValue::new("exception.message", "boom")],
        );
        server.set_status(Status::error("boom"));
        let child = traceweave::span("SELECT orders")
            .kind(SpanKind::Client)
            .parent(&server.context())
            .start();
        child.end();
        server.end();
    });
    let resource = traceweave::Resource::new([
        KeyValue::new("service.name", "decoder-test"),
        KeyValue::new("service.instance.id", "i-1"),
    ]);
    (captured.spans.0, resource)
}

fn py(python: &std::path::Path, args: &[&str]) -> Json {
    traceweave_tests::peer(python, "otlp_check.py", args)
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "traceweave-{name}-{}-{:x}",
        std::process::id(),
        TraceId::random().to_u128() as u32
    ))
}

#[test]
fn the_official_decoder_reads_our_protobuf_field_by_field() {
    let Some(python) = traceweave_tests::python() else {
        return;
    };
    let (spans, resource) = spans();
    let bytes = OtlpExporter::new("http://unused")
        .encode(&spans, &resource)
        .to_vec();
    let path = temp("otlp.pb");
    std::fs::write(&path, bytes).unwrap();
    let got = py(&python, &["decode", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);

    assert_eq!(got["resource"]["service.name"]["value"], "decoder-test");
    assert_eq!(got["scopes"][0]["name"], "traceweave");
    let server = got["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "GET /orders")
        .unwrap();
    let ours = spans.iter().find(|s| s.name == "GET /orders").unwrap();
    assert_eq!(server["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(server["span_id"], ours.span_id.to_string());
    assert_eq!(server["parent_span_id"], "00f067aa0ba902b7");
    // Sampled + random, has-is-remote, parent is remote.
    assert_eq!(server["flags"], 0x03 | 0x100 | 0x200);
    assert_eq!(server["kind"], 2);
    assert_eq!(server["start"], ours.start_time_unix_nano);
    assert_eq!(server["end"], ours.end_time_unix_nano);
    assert_eq!(server["status"]["code"], 2);
    assert_eq!(server["status"]["message"], "boom");
    let a = &server["attributes"];
    assert_eq!(a["http.response.status_code"]["kind"], "int_value");
    assert_eq!(a["http.response.status_code"]["value"], 500);
    assert_eq!(a["ratio"]["kind"], "double_value");
    assert_eq!(a["ok"]["kind"], "bool_value");
    assert_eq!(a["tags"][1]["value"], "b");
    assert_eq!(server["events"][0]["name"], "exception");
    assert_eq!(
        server["events"][0]["attributes"]["exception.message"]["value"],
        "boom"
    );
    assert_eq!(server["links"][0]["span_id"], "0000000000000009");
    assert_eq!(server["links"][0]["flags"], 0x01 | 0x100 | 0x200);
    let child = got["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "SELECT orders")
        .unwrap();
    assert_eq!(child["parent_span_id"], ours.span_id.to_string());
    assert_eq!(child["kind"], 3);
    assert_eq!(
        child["flags"],
        0x03 | 0x100,
        "a local parent: has-is-remote only"
    );
    assert_eq!(child["status"]["code"], 0);
}

/// Encodes every batch the collector hands over, read in place (no `SpanRecord` built).
#[derive(Clone, Default)]
struct EncodeInPlace(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl traceweave::Exporter for EncodeInPlace {
    fn export(
        &mut self,
        batch: traceweave::SpanBatch<'_>,
        resource: &traceweave::Resource,
    ) -> Result<(), traceweave::ExportError> {
        let bytes = OtlpExporter::new("http://unused")
            .encode_batch(batch, resource)
            .to_vec();
        self.0.lock().unwrap().push(bytes);
        Ok(())
    }
}

#[test]
fn what_the_exporter_sends_plain_gzip_and_zstd_decompresses_and_decodes_in_python() {
    let Some(python) = traceweave_tests::python() else {
        return;
    };
    let port = traceweave_tests::free_port();
    let out = temp("received.jsonl");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/otlp_check.py");
    let _receiver = traceweave_tests::Running(
        std::process::Command::new(&python)
            .arg(script)
            .args(["receive", &port.to_string(), out.to_str().unwrap()])
            .spawn()
            .expect("python runs"),
    );
    assert!(
        traceweave_tests::wait_for_port(port),
        "the receiver listens"
    );
    let (spans, resource) = spans();
    let mut plain = OtlpExporter::new("http://unused");
    let expected = plain.encode(&spans, &resource).len();
    let url = format!("http://127.0.0.1:{port}");
    let ways = [
        OtlpCompression::None,
        OtlpCompression::Gzip,
        OtlpCompression::Zstd,
    ];
    for how in ways {
        // The captured spans, through the exporter's whole HTTP path.
        let mut exporter = OtlpExporter::new(&url).compression(how);
        traceweave::Exporter::export(
            &mut exporter,
            traceweave::SpanBatch::from_records(&spans),
            &resource,
        )
        .unwrap_or_else(|e| panic!("{how:?}: {e}"));
    }
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let lines: Vec<Json> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, encoding) in lines.iter().zip(["", "gzip", "zstd"]) {
        assert_eq!(line["encoding"], encoding, "{line}");
        assert!(line.get("error").is_none(), "{line}");
        assert_eq!(line["path"], "/v1/traces");
        assert_eq!(line["content_type"], "application/x-protobuf");
        let wire = line["wire_bytes"].as_u64().unwrap() as usize;
        if encoding.is_empty() {
            assert_eq!(wire, expected);
        } else {
            assert!(wire < expected, "{encoding}: {wire} of {expected} bytes");
        }
        let request = &line["request"];
        assert_eq!(request["resource"]["service.name"]["value"], "decoder-test");
        let names: Vec<&str> = (request["spans"].as_array().unwrap().iter())
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), spans.len(), "{encoding}: {names:?}");
        assert!(names.contains(&"GET /orders"), "{names:?}");
        assert_eq!(
            request, &lines[0]["request"],
            "{encoding} decodes to the same spans"
        );
    }
}

#[test]
fn limits_and_dropped_counts_reach_the_official_decoder() {
    let Some(python) = traceweave_tests::python() else {
        return;
    };
    let sink = EncodeInPlace::default();
    let tracer = traceweave::builder()
        .ignore_env()
        .service_name("limits")
        .exporter(sink.clone())
        .span_limits(
            traceweave::SpanLimits::default()
                .with_attribute_count(3)
                .with_attribute_value_length(Some(4))
                .with_event_count(1)
                .with_link_count(1)
                .with_attributes_per_event(1)
                .with_attributes_per_link(0),
        )
        .build();
    tracer.in_scope(|| {
        let link = SpanContext::new(
            TraceId::from_u128(7),
            SpanId::from_u64(9),
            TraceFlags::SAMPLED,
            true,
        );
        let mut span = traceweave::span("limited")
            .link(link, vec![KeyValue::new("why", "batch")])
            .link(link, vec![])
            .start();
        span.set_attribute("a", 1);
        span.set_attribute("b", "long text");
        span.set_attribute("a", 2);
        span.set_attribute("c", String::from("owned text"));
        span.set_attribute("d", true);
        span.set_attribute("e", 5);
        span.set_attribute("b", "x");
        span.add_event(
            "first",
            vec![KeyValue::new("k1", "v1"), KeyValue::new("k2", "v2")],
        );
        span.add_event("second", vec![]);
    });
    assert!(
        tracer
            .shutdown_with_timeout(Duration::from_secs(10))
            .is_ok()
    );
    let batches = sink.0.lock().unwrap().clone();
    assert_eq!(batches.len(), 1);
    let path = temp("limits.pb");
    std::fs::write(&path, &batches[0]).unwrap();
    let got = py(&python, &["decode", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);

    let span = &got["spans"][0];
    assert_eq!(span["name"], "limited");
    // Keys are unique, in the order first set, with their last values; strings cut to 4.
    assert_eq!(span["attribute_keys"], serde_json::json!(["a", "b", "c"]));
    assert_eq!(span["attributes"]["a"]["value"], 2);
    assert_eq!(span["attributes"]["b"]["value"], "x");
    assert_eq!(span["attributes"]["c"]["value"], "owne");
    assert_eq!(span["dropped_attributes_count"], 2);
    assert_eq!(span["dropped_events_count"], 1);
    assert_eq!(span["dropped_links_count"], 1);
    assert_eq!(span["events"][0]["name"], "first");
    assert_eq!(span["events"][0]["dropped_attributes_count"], 1);
    assert_eq!(span["events"][0]["attributes"]["k1"]["value"], "v1");
    assert_eq!(span["links"][0]["dropped_attributes_count"], 1);
}

#[test]
fn zipkin_json_matches_the_official_schema() {
    let Some(python) = traceweave_tests::python() else {
        return;
    };
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/specs/zipkin2-api.yaml");
    if !schema.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs ../shared/specs/zipkin2-api.yaml"
        );
        eprintln!("note: no zipkin2-api.yaml beside the checkout; skipping");
        return;
    }
    let (spans, resource) = spans();
    let doc = ZipkinExporter::encode(&spans, &resource);
    let server = doc
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "GET /orders")
        .unwrap();
    assert_eq!(server["kind"], "SERVER");
    assert_eq!(server["localEndpoint"]["serviceName"], "decoder-test");
    assert_eq!(server["tags"]["error"], "boom");
    assert_eq!(server["tags"]["http.response.status_code"], "500");
    assert_eq!(server["tags"]["tags"], r#"["a","b"]"#);
    assert!(server["duration"].as_u64().unwrap() >= 1);
    let path = temp("zipkin.json");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let got = py(
        &python,
        &["zipkin", schema.to_str().unwrap(), path.to_str().unwrap()],
    );
    let _ = std::fs::remove_file(&path);
    assert_eq!(got["valid"], true, "{got}");
    // And the schema does catch a broken document.
    let path = temp("zipkin-bad.json");
    std::fs::write(&path, r#"[{"traceId":"xyz","id":"1"}]"#).unwrap();
    let got = py(
        &python,
        &["zipkin", schema.to_str().unwrap(), path.to_str().unwrap()],
    );
    let _ = std::fs::remove_file(&path);
    assert_eq!(got["valid"], false, "{got}");
}

#[test]
fn otlp_json_lines_replay_into_a_collector() {
    let Some(python) = traceweave_tests::python() else {
        return;
    };
    let path = temp("traces.jsonl");
    let tracer = traceweave::builder()
        .ignore_env()
        .service_name("file-test")
        .exporter(FileExporter::create(&path).unwrap())
        .max_export_batch_size(2)
        .build();
    tracer.in_scope(|| {
        for i in 0..5 {
            let mut s = traceweave::span("stored").start();
            s.set_attribute("i", i);
        }
    });
    assert!(
        tracer
            .shutdown_with_timeout(Duration::from_secs(10))
            .is_ok()
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Json> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let spans: usize = lines
        .iter()
        .map(|l| {
            l["resourceSpans"][0]["scopeSpans"][0]["spans"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(spans, 5);
    let first = &lines[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(
        first["traceId"].as_str().unwrap().len(),
        32,
        "hex ids: {first}"
    );
    assert!(
        first["startTimeUnixNano"].is_string(),
        "64-bit integers as strings: {first}"
    );
    assert!(first["kind"].is_number(), "enums as integers: {first}");

    // Replay into rotel.
    let (http_port, grpc_port) = (traceweave_tests::free_port(), traceweave_tests::free_port());
    let _agent = traceweave_tests::start_rotel(&python, http_port, grpc_port, None);
    let got = py(
        &python,
        &[
            "replay",
            &format!("http://127.0.0.1:{http_port}/v1/traces"),
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(got["sent"].as_u64().unwrap() as usize, lines.len());
    let _ = std::fs::remove_file(&path);
}
