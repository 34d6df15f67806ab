//! One framework, one process: a thread busy a given share of the time making request traces
//! (a server root and 10 children with 2–3 typed attributes each, an event on every tenth
//! span, an error on every twentieth), exporting OTLP/HTTP protobuf to `URL` the way the
//! framework's documentation sets it up. At the end the pipeline is shut down (everything
//! queued is sent) and one JSON line reports the spans made, the CPU of the whole process
//! (every thread) from the first span to the end of shutdown, and the peak RSS.
//!
//! `app FRAMEWORK none|gzip|zstd URL SECONDS LOAD` (LOAD: `0.2` busy, or `50000/s` spans), FRAMEWORK one of `traceweave`, `otel-sdk`,
//! `tracing-otel`, `fastrace-otel`, and traceweave's stages: `tw-span` (spans only, no export),
//! `tw-encode` (+ the protobuf, not sent), `tw-compress` (+ gzip or zstd, not sent).

use std::borrow::Cow;
use std::time::{Duration, Instant};

const CHILDREN: u64 = 10;

/// User + system CPU of the whole process, and its peak RSS in KiB.
fn usage() -> (u64, u64) {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    (ns(u.ru_utime) + ns(u.ru_stime), peak_rss_kb())
}

/// `VmHWM`: the process's own peak (`ru_maxrss` keeps the parent's across `exec` on Linux).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `root` for `seconds` at `load`: a share of the thread's time (`0.2`: in bursts of
/// 250 µs, sleeping between them so that the thread works a fifth of the time, as a service
/// thread between requests) or a rate (`50000/s`: spans a second, made each millisecond and
/// sleeping the rest). Returns the roots made.
fn paced(seconds: f64, load: &str, mut root: impl FnMut(u64)) -> u64 {
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut roots = 0;
    if let Some(rate) = load.strip_suffix("/s") {
        let roots_per_s = rate.parse::<f64>().expect("RATE/s") / (CHILDREN + 1) as f64;
        let start = Instant::now();
        while Instant::now() < end {
            let due = (start.elapsed().as_secs_f64() * roots_per_s) as u64;
            while roots < due {
                root(roots);
                roots += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        return roots;
    }
    let busy: f64 = load.parse().expect("BUSY");
    const BURST: Duration = Duration::from_micros(250);
    while Instant::now() < end {
        let start = Instant::now();
        while start.elapsed() < BURST {
            root(roots);
            roots += 1;
        }
        let worked = start.elapsed();
        std::thread::sleep(worked.mul_f64(1.0 / busy - 1.0));
    }
    roots
}

fn is_event(r: u64, i: u64) -> bool {
    (r * (CHILDREN + 1) + i) % 10 == 0
}

fn is_error(r: u64, i: u64) -> bool {
    (r * (CHILDREN + 1) + i) % 20 == 7
}

mod tw {
    use super::*;
    use traceweave::{KeyValue, SpanKind, Status};

    pub fn root(r: u64) {
        let _root = traceweave::span("GET /orders/{id}")
            .kind(SpanKind::Server)
            .attribute("http.request.method", "GET")
            .attribute("http.route", "/orders/{id}")
            .attribute("http.response.status_code", 200)
            .start()
            .entered();
        for i in 0..CHILDREN {
            let mut child = if i % 2 == 0 {
                traceweave::span("SELECT orders")
                    .kind(SpanKind::Client)
                    .attribute("db.system.name", "postgresql")
                    .attribute("db.response.returned_rows", i as i64)
                    .start()
            } else {
                traceweave::span("render")
                    .attribute("template", "order.html")
                    .start()
            };
            if is_event(r, i) {
                child.add_event("retry", vec![KeyValue::new("attempt", 2)]);
            }
            if is_error(r, i) {
                child.set_status(Status::error("timeout"));
            }
        }
    }

    /// What an exporter after the span stage costs: nothing (`tw-span`), the protobuf
    /// (`tw-encode`), the protobuf and gzip or zstd (`tw-compress`), each as the exporter does
    /// it (gzip level 1, zstd level -1 with a kept context).
    pub struct Stage {
        pub encoder: traceweave::export::OtlpExporter,
        pub encode: bool,
        pub compression: &'static str,
        pub zstd: Option<zstd::bulk::Compressor<'static>>,
        pub out: Vec<u8>,
        pub bytes: u64,
    }

    impl std::fmt::Debug for Stage {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Stage")
                .field("encode", &self.encode)
                .field("compression", &self.compression)
                .finish_non_exhaustive()
        }
    }

    impl traceweave::Exporter for Stage {
        fn export(
            &mut self,
            spans: traceweave::SpanBatch<'_>,
            resource: &traceweave::Resource,
        ) -> Result<(), traceweave::ExportError> {
            if !self.encode {
                return Ok(());
            }
            let body = self.encoder.encode_batch(spans, resource);
            self.bytes += body.len() as u64;
            match self.compression {
                "gzip" => {
                    use std::io::Write;
                    self.out.clear();
                    let mut enc = flate2::write::GzEncoder::new(
                        std::mem::take(&mut self.out),
                        flate2::Compression::fast(),
                    );
                    let _ = enc.write_all(body);
                    self.out = enc.finish().unwrap_or_default();
                }
                "zstd" => {
                    let c = self
                        .zstd
                        .get_or_insert_with(|| zstd::bulk::Compressor::new(-1).unwrap());
                    self.out.clear();
                    self.out.reserve(zstd::zstd_safe::compress_bound(body.len()));
                    c.compress_to_buffer(body, &mut self.out).unwrap();
                }
                _ => self.out.clear(),
            }
            self.bytes += std::hint::black_box(self.out.len()) as u64;
            Ok(())
        }
    }
}

mod otel {
    use super::*;
    use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
    use opentelemetry::{Context, KeyValue};

    pub fn root(tracer: &opentelemetry_sdk::trace::SdkTracer, r: u64) {
        let root = tracer
            .span_builder("GET /orders/{id}")
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.route", "/orders/{id}"),
                KeyValue::new("http.response.status_code", 200),
            ])
            .start(tracer);
        let cx = Context::current_with_span(root);
        for i in 0..CHILDREN {
            let mut child = if i % 2 == 0 {
                tracer
                    .span_builder("SELECT orders")
                    .with_kind(SpanKind::Client)
                    .with_attributes([
                        KeyValue::new("db.system.name", "postgresql"),
                        KeyValue::new("db.response.returned_rows", i as i64),
                    ])
                    .start_with_context(tracer, &cx)
            } else {
                tracer
                    .span_builder("render")
                    .with_attributes([KeyValue::new("template", "order.html")])
                    .start_with_context(tracer, &cx)
            };
            if is_event(r, i) {
                child.add_event("retry", vec![KeyValue::new("attempt", 2)]);
            }
            if is_error(r, i) {
                child.set_status(Status::error("timeout"));
            }
            child.end();
        }
        cx.span().end();
    }
}

mod tr {
    use super::*;

    pub fn root(r: u64) {
        let root = tracing::info_span!(
            "GET /orders/{id}",
            otel.kind = "server",
            http.request.method = "GET",
            http.route = "/orders/{id}",
            http.response.status_code = 200
        );
        let _root = root.enter();
        for i in 0..CHILDREN {
            let child = if i % 2 == 0 {
                tracing::info_span!(
                    "SELECT orders",
                    otel.kind = "client",
                    db.system.name = "postgresql",
                    db.response.returned_rows = i as i64,
                    otel.status_code = tracing::field::Empty
                )
            } else {
                tracing::info_span!(
                    "render",
                    template = "order.html",
                    otel.status_code = tracing::field::Empty
                )
            };
            let _child = child.enter();
            if is_event(r, i) {
                tracing::info!(attempt = 2, "retry");
            }
            if is_error(r, i) {
                child.record("otel.status_code", "ERROR");
            }
        }
    }
}

mod fr {
    use super::*;
    use fastrace::prelude::*;

    pub fn root(r: u64) {
        let root = Span::root("GET /orders/{id}", SpanContext::random()).with_properties(|| {
            [
                ("span.kind", "server"),
                ("http.request.method", "GET"),
                ("http.route", "/orders/{id}"),
                ("http.response.status_code", "200"),
            ]
        });
        let _root = root.set_local_parent();
        for i in 0..CHILDREN {
            let _child = if i % 2 == 0 {
                LocalSpan::enter_with_local_parent("SELECT orders")
                    .with_properties(|| [("span.kind", "client"), ("db.system.name", "postgresql")])
                    .with_property(|| ("db.response.returned_rows", i.to_string()))
            } else {
                LocalSpan::enter_with_local_parent("render")
                    .with_property(|| ("template", "order.html"))
            };
            if is_event(r, i) {
                LocalSpan::add_event(Event::new("retry").with_property(|| ("attempt", "2")));
            }
            if is_error(r, i) {
                LocalSpan::add_property(|| ("error", "timeout"));
            }
        }
    }
}

fn otlp_exporter(url: &str, compression: &str) -> opentelemetry_otlp::SpanExporter {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url);
    let builder = match compression {
        "gzip" => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
        "zstd" => builder.with_compression(opentelemetry_otlp::Compression::Zstd),
        _ => builder,
    };
    builder.build().expect("the OTLP exporter")
}

fn resource() -> opentelemetry_sdk::Resource {
    opentelemetry_sdk::Resource::builder_empty()
        .with_service_name("e2e")
        .build()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let framework = args[1].as_str();
    let compression: &'static str = match args[2].as_str() {
        "gzip" => "gzip",
        "zstd" => "zstd",
        _ => "none",
    };
    let url = args[3].as_str();
    let seconds: f64 = args[4].parse().expect("SECONDS");
    let load = args[5].as_str();
    let spans_per_root = CHILDREN + 1;

    let (cpu0, roots, extra) = match framework {
        "traceweave" | "tw-span" | "tw-encode" | "tw-compress" => {
            let mut builder = traceweave::builder().ignore_env().service_name("e2e");
            // For experiments: another export batch size than the default 512.
            if let Some(n) = std::env::var("E2E_BATCH").ok().and_then(|v| v.parse().ok()) {
                builder = builder.max_export_batch_size(n);
            }
            let builder = match framework {
                "traceweave" => builder
                    .exporter(traceweave::export::OtlpExporter::with_traces_url(url).compression(
                    match compression {
                        "gzip" => traceweave::export::OtlpCompression::Gzip,
                        "zstd" => traceweave::export::OtlpCompression::Zstd,
                        _ => traceweave::export::OtlpCompression::None,
                    },
                )),
                stage => builder.exporter(tw::Stage {
                    encoder: traceweave::export::OtlpExporter::with_traces_url(url),
                    encode: stage != "tw-span",
                    compression: if stage == "tw-compress" {
                        compression
                    } else {
                        "none"
                    },
                    zstd: None,
                    out: Vec::new(),
                    bytes: 0,
                }),
            };
            let tracer = builder.build();
            let (cpu0, _) = usage();
            let roots = tracer.in_scope(|| paced(seconds, load, tw::root));
            let _ = tracer.shutdown_with_timeout(Duration::from_secs(60));
            let stats = tracer.stats();
            let extra = format!(
                r#","tw_created":{},"tw_exported":{},"tw_dropped":{}"#,
                stats.created,
                stats.exported,
                stats.dropped()
            );
            (cpu0, roots, extra)
        }
        "otel-sdk" | "tracing-otel" => {
            use opentelemetry::trace::TracerProvider as _;
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_batch_exporter(otlp_exporter(url, compression))
                .with_resource(resource())
                .build();
            let tracer = provider.tracer("e2e");
            let roots = if framework == "otel-sdk" {
                let (cpu0, _) = usage();
                (cpu0, paced(seconds, load, |r| otel::root(&tracer, r)))
            } else {
                use tracing_subscriber::layer::SubscriberExt;
                let subscriber = tracing_subscriber::registry()
                    .with(tracing_opentelemetry::layer().with_tracer(tracer));
                tracing::subscriber::set_global_default(subscriber).expect("subscriber");
                let (cpu0, _) = usage();
                (cpu0, paced(seconds, load, tr::root))
            };
            let _ = provider.shutdown();
            (roots.0, roots.1, String::new())
        }
        "fastrace-otel" => {
            let reporter = fastrace_opentelemetry::OpenTelemetryReporter::new(
                otlp_exporter(url, compression),
                Cow::Owned(resource()),
                opentelemetry::InstrumentationScope::builder("e2e").build(),
            );
            fastrace::set_reporter(reporter, fastrace::collector::Config::default());
            let (cpu0, _) = usage();
            let roots = paced(seconds, load, fr::root);
            fastrace::flush();
            (cpu0, roots, String::new())
        }
        "baseline" => {
            // The harness alone: the pacing loop with nothing traced, subtracted from the others.
            let (cpu0, _) = usage();
            let roots = paced(seconds, load, |r| {
                std::hint::black_box(r);
            });
            (cpu0, roots, String::new())
        }
        other => panic!("unknown framework {other}"),
    };
    let (cpu1, rss_kb) = usage();
    println!(
        r#"{{"framework":"{framework}","compression":"{}","created":{},"cpu_ns":{},"rss_kb":{rss_kb}{extra}}}"#,
        compression,
        roots * spans_per_root,
        cpu1 - cpu0,
    );
}
