//! OTLP encoding, spans per second on one core: traceweave's protobuf writer side by side with
//! the opentelemetry-otlp path (the SDK's `SpanData` through `opentelemetry-proto`'s
//! transform, then prost) for the same spans; traceweave's OTLP/JSON; and gzip and zstd of the
//! protobuf body (flate2 on zlib-rs at levels 1, 2, 3, 6; libzstd at -5, -1, 1, 3, with a kept
//! context as the exporter calls it) with their ratios. Each iteration handles one 512-span
//! batch.
//!
//! SkyWalking segments (protobuf and JSON) are encoded from the same batch beside them.
//!
//! `cargo bench -p traceweave --bench otlp_encode --features otlp,opentelemetry-sdk,zstd,skywalking`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use prost::Message;
use traceweave::export::{OtlpExporter, OtlpProtocol, SkyWalkingExporter, SkyWalkingProtocol};
use traceweave::integrations::opentelemetry::span_data;
use traceweave::{KeyValue, SpanKind, SpanRecord, Status};

const BATCH: usize = 512;

/// A realistic batch: server, client and internal spans with a few typed attributes, an
/// occasional event and error.
fn batch() -> (Vec<SpanRecord>, traceweave::Resource) {
    let captured = traceweave::testing::Capture::new().run(|| {
        for i in 0..BATCH / 4 {
            let mut server = traceweave::span("GET /orders/{id}")
                .kind(SpanKind::Server)
                .attribute("http.request.method", "GET")
                .attribute("http.route", "/orders/{id}")
                .attribute("http.response.status_code", 200)
                .start();
            for j in 0..3 {
                let mut child = traceweave::span(if j == 0 { "SELECT orders" } else { "render" })
                    .kind(if j == 0 {
                        SpanKind::Client
                    } else {
                        SpanKind::Internal
                    })
                    .parent(&server.context())
                    .attribute("db.system", "postgresql")
                    .attribute("rows", i as i64)
                    .start();
                if i % 10 == 0 {
                    child.add_event("retry", vec![KeyValue::new("attempt", 2)]);
                    child.set_status(Status::error("timeout"));
                }
            }
            server.set_attribute("user.id", format!("user-{i}"));
        }
    });
    let resource = traceweave::Resource::new([
        KeyValue::new("service.name", "bench"),
        KeyValue::new("service.instance.id", "i-1"),
        KeyValue::new("host.name", "bench-host"),
    ]);
    (captured.spans.0, resource)
}

fn encode(c: &mut Criterion) {
    let (spans, resource) = batch();
    assert_eq!(spans.len(), BATCH);
    let mut exporter = OtlpExporter::new("http://unused");
    let sdk_spans: Vec<_> = spans.iter().map(span_data).collect();
    let sdk_resource = opentelemetry_sdk::Resource::builder_empty()
        .with_attributes(
            resource
                .attributes()
                .iter()
                .map(|kv| opentelemetry::KeyValue::new(kv.key.to_string(), kv.value.to_string())),
        )
        .build();
    let schema_resource = ResourceAttributesWithSchema::from(&sdk_resource);

    let mut g = c.benchmark_group("otlp_protobuf_encode");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("traceweave", |b| {
        b.iter(|| black_box(exporter.encode(black_box(&spans), &resource).len()))
    });
    g.bench_function("opentelemetry-otlp", |b| {
        b.iter_batched(
            || sdk_spans.clone(),
            |batch| {
                let request = ExportTraceServiceRequest {
                    resource_spans: group_spans_by_resource_and_scope(batch, &schema_resource),
                };
                black_box(request.encode_to_vec())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("otlp_json_encode");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut json = OtlpExporter::new("http://unused").protocol(OtlpProtocol::HttpJson);
    g.bench_function("traceweave", |b| {
        b.iter(|| black_box(json.encode(black_box(&spans), &resource).len()))
    });
    g.finish();

    // SkyWalking segments (one per span) from the same batch: protobuf for gRPC, JSON for HTTP.
    let mut g = c.benchmark_group("skywalking_segments_encode");
    g.throughput(Throughput::Elements(BATCH as u64));
    let batch = traceweave::SpanBatch::from_records(&spans);
    let mut sw = SkyWalkingExporter::new("127.0.0.1:11800");
    g.bench_function("traceweave protobuf", |b| {
        b.iter(|| black_box(sw.encode_batch(black_box(batch), &resource).len()))
    });
    let mut sw_json = SkyWalkingExporter::new("127.0.0.1:12800").protocol(SkyWalkingProtocol::Http);
    g.bench_function("traceweave json", |b| {
        b.iter(|| black_box(sw_json.encode_batch(black_box(batch), &resource).len()))
    });
    g.finish();

    let body = exporter.encode(&spans, &resource).to_vec();
    let mut g = c.benchmark_group("otlp_gzip");
    g.throughput(Throughput::Elements(BATCH as u64));
    for level in [1, 2, 3, 6] {
        let compressed = gzip(&body, level);
        print_ratio(&format!("gzip level {level}"), body.len(), compressed.len());
        g.bench_function(format!("flate2 level {level}"), |b| {
            b.iter(|| black_box(gzip(black_box(&body), level).len()))
        });
    }
    g.finish();

    // zstd as the exporter calls it: one kept context and output buffer.
    let mut g = c.benchmark_group("otlp_zstd");
    g.throughput(Throughput::Elements(BATCH as u64));
    for level in [-5, -1, 1, 3] {
        let mut compressor = zstd::bulk::Compressor::new(level).unwrap();
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(body.len()));
        compressor.compress_to_buffer(&body, &mut out).unwrap();
        print_ratio(&format!("zstd level {level}"), body.len(), out.len());
        g.bench_function(format!("zstd level {level}"), |b| {
            b.iter(|| {
                out.clear();
                compressor
                    .compress_to_buffer(black_box(&body), &mut out)
                    .unwrap();
                black_box(out.len())
            })
        });
    }
    g.finish();
}

/// What a compressor made of the batch: sizes, per span, and the ratio.
fn print_ratio(what: &str, body: usize, compressed: usize) {
    eprintln!(
        "{what}: {body} -> {compressed} bytes ({:.0} -> {:.0} per span), ratio {:.2}",
        body as f64 / BATCH as f64,
        compressed as f64 / BATCH as f64,
        body as f64 / compressed as f64
    );
}

fn gzip(body: &[u8], level: u32) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    enc.write_all(body).unwrap();
    enc.finish().unwrap()
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3))
        .sample_size(30);
    targets = encode
}
criterion_main!(benches);
