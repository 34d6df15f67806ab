//! Against a real OTLP collector, `rotel` (from PyPI): our http/protobuf, http/json and gRPC
//! exports, plain and gzipped, arrive and its span log shows the right ids, parent, kind, status,
//! attributes and events. rotel rejects JSON with numeric 64-bit integers or string enums, so
//! a JSON export it accepts is also proof of the JSON mapping. (zstd is not here: this rotel
//! answers 400 to any zstd body, the `zstd` command's included; what our exporter sends with
//! zstd is read by Python's `zstandard` and the official decoder in
//! `exports_decode_with_official_tools.rs`.)

use std::time::Duration;

use traceweave::export::{OtlpExporter, OtlpGrpcExporter, OtlpProtocol};
use traceweave::{KeyValue, SpanKind, Status, traced};
use traceweave_tests::free_port;

#[traced(kind = server, args(order_id))]
fn handle(order_id: i64) -> Result<(), std::io::Error> {
    let mut span = traceweave::span("db.query").kind(SpanKind::Client).start();
    span.set_attribute("db.system", "postgresql");
    span.add_event("retry", vec![KeyValue::new("attempt", 2)]);
    span.set_status(Status::Ok);
    span.end();
    Err(std::io::Error::other("payment declined"))
}

#[test]
fn rotel_receives_every_protocol_plain_and_gzipped() {
    let Some(py) = traceweave_tests::python() else {
        return;
    };
    let (http_port, grpc_port) = (free_port(), free_port());
    let log = tempfile_path("rotel");
    let agent = traceweave_tests::start_rotel(&py, http_port, grpc_port, Some(&log));

    let mut trace_ids = Vec::new();
    let http = format!("http://127.0.0.1:{http_port}");
    let grpc = format!("http://127.0.0.1:{grpc_port}");
    let exporters: Vec<(&str, Box<dyn traceweave::Exporter>)> = vec![
        ("http/protobuf", Box::new(OtlpExporter::new(&http))),
        (
            "http/protobuf+gzip",
            Box::new(OtlpExporter::new(&http).gzip(true)),
        ),
        (
            "http/json",
            Box::new(OtlpExporter::new(&http).protocol(OtlpProtocol::HttpJson)),
        ),
        (
            "http/json+gzip",
            Box::new(
                OtlpExporter::new(&http)
                    .protocol(OtlpProtocol::HttpJson)
                    .gzip(true),
            ),
        ),
        ("grpc", Box::new(OtlpGrpcExporter::new(&grpc))),
        (
            "grpc+gzip",
            Box::new(OtlpGrpcExporter::new(&grpc).gzip(true)),
        ),
    ];
    for (what, exporter) in exporters {
        let memory = traceweave::InMemoryExporter::new();
        let tracer = traceweave::builder()
            .ignore_env()
            .service_name("rotel-test")
            .exporter(exporter)
            .exporter(memory.clone())
            .build();
        tracer.in_scope(|| {
            let _ = handle(42);
        });
        assert!(
            tracer
                .shutdown_with_timeout(Duration::from_secs(15))
                .is_ok()
        );
        let stats = tracer.stats();
        assert_eq!((stats.exported, stats.dropped()), (2, 0), "{what}");
        let spans = memory.spans();
        trace_ids.push((spans[0].trace_id, spans.clone()));
    }

    // rotel prints what it received.
    let start = std::time::Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if trace_ids.iter().all(|(t, _)| text.contains(&t.to_string()))
            || start.elapsed() > Duration::from_secs(10)
        {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(agent);
    assert!(text.contains("service.name: Str(rotel-test)"), "{text}");
    assert!(
        text.contains("telemetry.sdk.name: Str(traceweave)"),
        "{text}"
    );
    for (trace_id, spans) in &trace_ids {
        let server = spans.iter().find(|s| s.name == "handle").unwrap();
        let db = spans.iter().find(|s| s.name == "db.query").unwrap();
        let block = span_block(&text, &server.span_id.to_string());
        assert!(
            block.contains(&format!("Trace ID       : {trace_id}")),
            "{block}"
        );
        assert!(
            block.contains("Kind           : SPAN_KIND_SERVER"),
            "{block}"
        );
        assert!(
            block.contains("Status code    : STATUS_CODE_ERROR"),
            "{block}"
        );
        assert!(
            block.contains("Status message : payment declined"),
            "{block}"
        );
        assert!(block.contains("order_id: Int(42)"), "{block}");
        let block = span_block(&text, &db.span_id.to_string());
        assert!(
            block.contains(&format!("Parent ID      : {}", server.span_id)),
            "{block}"
        );
        assert!(
            block.contains("Kind           : SPAN_KIND_CLIENT"),
            "{block}"
        );
        assert!(block.contains("Status code    : STATUS_CODE_OK"), "{block}");
        assert!(block.contains("db.system: Str(postgresql)"), "{block}");
        assert!(block.contains("retry"), "the event: {block}");
        assert!(block.contains("attempt: Int(2)"), "{block}");
    }
}

/// The lines rotel printed for the span with this id (from its header to the next span).
fn span_block<'a>(text: &'a str, span_id: &str) -> &'a str {
    let at = text
        .find(&format!("ID             : {span_id}"))
        .unwrap_or_else(|| panic!("rotel never printed span {span_id}:\n{text}"));
    let start = text[..at].rfind("Span #").unwrap_or(0);
    let end = text[at..].find("Span #").map_or(text.len(), |e| at + e);
    &text[start..end]
}

fn tempfile_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "traceweave-{name}-{}-{:x}.log",
        std::process::id(),
        traceweave::TraceId::random().to_u128() as u32
    ))
}
