//! The SkyWalking exporter against a receiver built on SkyWalking's official protocol definitions
//! (`tests/peers/skywalking_oap.py`: the generated protobuf, gRPC and JSON-mapping code that the
//! Apache SkyWalking Python agent ships), over gRPC and HTTP: every span arrives as a segment the
//! official types parse, references resolve to reported segments, an extracted `sw8` becomes the
//! `CrossProcess` reference with the caller's fields, the token is on every call, and the
//! instance's properties and keep-alives arrive.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use traceweave::export::{SkyWalkingExporter, SkyWalkingProtocol};
use traceweave::propagation::SkyWalkingPropagator;
use traceweave::{KeyValue, Propagator, SpanKind, Status};
use traceweave_tests::skywalking_oap::Oap;

fn segments_of<'a>(received: &'a Json, trace: &str, instance: &str) -> Vec<&'a Json> {
    received["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["traceId"] == trace && s["serviceInstance"] == instance)
        .collect()
}

fn tag<'a>(span: &'a Json, key: &str) -> Option<&'a str> {
    span["tags"]
        .as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .and_then(|t| t["value"].as_str())
}

/// An `sw8` as a SkyWalking agent writes it: its own trace and segment ids, span 3.
const PEER_SW8_TRACE: &str = "a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4";
const PEER_SW8_SEGMENT: &str = "e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7";

fn peer_sw8() -> HashMap<String, String> {
    use base64::Engine as _;
    let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    HashMap::from([(
        "sw8".to_owned(),
        format!(
            "1-{}-{}-3-{}-{}-{}-{}",
            b(PEER_SW8_TRACE),
            b(PEER_SW8_SEGMENT),
            b("py-frontend"),
            b("py-frontend-1@host"),
            b("/checkout"),
            b("orders:8080"),
        ),
    )])
}

#[test]
fn segments_properties_and_keepalives_reach_the_official_receiver_over_grpc_and_http() {
    let Some(py) = traceweave_tests::python() else {
        return;
    };
    let oap = Oap::start(&py);
    for protocol in [SkyWalkingProtocol::Grpc, SkyWalkingProtocol::Http] {
        let (address, instance) = match protocol {
            SkyWalkingProtocol::Grpc => (format!("127.0.0.1:{}", oap.grpc), "orders-grpc"),
            _ => (format!("http://127.0.0.1:{}", oap.http), "orders-http"),
        };
        let memory = traceweave::InMemoryExporter::new();
        let tracer = traceweave::builder()
            .ignore_env()
            .service_name("orders")
            .resource_attribute(KeyValue::new("service.instance.id", instance))
            .exporter(
                SkyWalkingExporter::new(&address)
                    .protocol(protocol)
                    .authentication("s3cret-token")
                    .heartbeat_period(Duration::from_secs(1)),
            )
            .also_export(memory.clone())
            .build();
        let caller = SkyWalkingPropagator::new().extract(&peer_sw8());
        tracer.in_scope(|| {
            let entry = traceweave::span("POST /orders")
                .kind(SpanKind::Server)
                .parent(&caller)
                .attribute("http.request.method", "POST")
                .attribute("http.response.status_code", 201)
                .start()
                .entered();
            {
                let mut db = traceweave::span("INSERT orders")
                    .kind(SpanKind::Client)
                    .attribute("db.system.name", "postgresql")
                    .attribute("db.query.text", "INSERT INTO orders VALUES ($1)")
                    .attribute("server.address", "db")
                    .attribute("server.port", 5432)
                    .start();
                db.add_event(
                    "exception",
                    vec![
                        KeyValue::new("exception.type", "PgError"),
                        KeyValue::new("exception.message", "duplicate key"),
                    ],
                );
                db.set_status(Status::error("duplicate key"));
                db.end();
            }
            // Nested lengths of one, two and three bytes (a 20 KB statement).
            traceweave::span("price")
                .attribute("note", "n".repeat(20_000))
                .start()
                .end();
            drop(entry);
        });
        assert!(tracer.force_flush().is_ok());
        // The properties at once, then a keep-alive a period later.
        let received = oap.wait_for(|r| {
            r["pings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["serviceInstance"] == instance)
        });
        assert!(
            tracer
                .shutdown_with_timeout(Duration::from_secs(15))
                .is_ok()
        );
        let stats = tracer.stats();
        assert_eq!((stats.exported, stats.dropped()), (3, 0), "{protocol:?}");
        let via = if protocol == SkyWalkingProtocol::Grpc {
            "grpc"
        } else {
            "http"
        };
        assert!(
            received["errors"].as_array().unwrap().is_empty(),
            "{received}"
        );

        // Management: properties with the agents' keys, keep-alives, both with the token.
        let props = received["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["serviceInstance"] == instance)
            .unwrap_or_else(|| panic!("no properties of {instance}: {received}"));
        assert_eq!(props["service"], "orders");
        assert_eq!(props["_via"], via);
        assert_eq!(props["_auth"], "s3cret-token");
        let prop = |k: &str| {
            props["properties"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["key"] == k)
                .and_then(|p| p["value"].as_str())
                .map(str::to_owned)
        };
        assert_eq!(prop("language").as_deref(), Some("rust"));
        assert_eq!(prop("Process No.").unwrap(), std::process::id().to_string());
        assert!(prop("hostname").is_some_and(|h| !h.is_empty()));
        assert!(prop("OS Name").is_some());
        let ping = received["pings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["serviceInstance"] == instance)
            .unwrap();
        assert_eq!(
            (&ping["service"], &ping["_auth"]),
            (&"orders".into(), &"s3cret-token".into())
        );

        // Segments: one per span, ids = span ids, the peer's trace id kept.
        let spans = memory.spans();
        let segments = segments_of(&received, PEER_SW8_TRACE, instance);
        assert_eq!(segments.len(), 3, "{protocol:?}: {received}");
        let by_name = |name: &str| -> (&traceweave::SpanRecord, &Json) {
            let span = spans.iter().find(|s| s.name == name).unwrap();
            let seg = segments
                .iter()
                .find(|s| s["traceSegmentId"] == span.span_id.to_string())
                .unwrap_or_else(|| panic!("no segment for {name}: {received}"));
            (span, seg)
        };
        for seg in &segments {
            assert_eq!(seg["service"], "orders");
            assert_eq!(seg["serviceInstance"], instance);
            assert_eq!(seg["_auth"], "s3cret-token");
            assert_eq!(seg["_via"], via);
            let spans = seg["spans"].as_array().unwrap();
            assert_eq!(spans.len(), 1);
            assert_eq!(spans[0]["spanId"], 0);
            assert_eq!(spans[0]["parentSpanId"], -1);
        }
        let (entry, seg) = by_name("POST /orders");
        let span = &seg["spans"][0];
        assert_eq!(span["spanType"], "Entry");
        assert_eq!(span["spanLayer"], "Http");
        assert_eq!(span["componentId"], 49);
        assert_eq!(tag(span, "http.method"), Some("POST"));
        assert_eq!(tag(span, "http.status_code"), Some("201"));
        let start = span["startTime"].as_str().unwrap().parse::<u64>().unwrap();
        assert_eq!(start, entry.start_time_unix_nano / 1_000_000);
        // The caller's sw8, field by field.
        let r = &span["refs"][0];
        assert_eq!(r["refType"], "CrossProcess");
        assert_eq!(r["traceId"], PEER_SW8_TRACE);
        assert_eq!(r["parentTraceSegmentId"], PEER_SW8_SEGMENT);
        assert_eq!(r["parentSpanId"], 3);
        assert_eq!(r["parentService"], "py-frontend");
        assert_eq!(r["parentServiceInstance"], "py-frontend-1@host");
        assert_eq!(r["parentEndpoint"], "/checkout");
        assert_eq!(r["networkAddressUsedAtPeer"], "orders:8080");

        let (_, seg) = by_name("INSERT orders");
        let span = &seg["spans"][0];
        assert_eq!(span["spanType"], "Exit");
        assert_eq!(span["spanLayer"], "Database");
        assert_eq!(span["componentId"], 22);
        assert_eq!(span["peer"], "db:5432");
        assert_eq!(span["isError"], true);
        assert_eq!(tag(span, "db.type"), Some("postgresql"));
        assert_eq!(
            tag(span, "db.statement"),
            Some("INSERT INTO orders VALUES ($1)")
        );
        let log = &span["logs"][0]["data"];
        let data = |k: &str| {
            log.as_array()
                .unwrap()
                .iter()
                .find(|d| d["key"] == k)
                .map(|d| d["value"].clone())
        };
        assert_eq!(data("event"), Some("error".into()));
        assert_eq!(data("error.kind"), Some("PgError".into()));
        assert_eq!(data("message"), Some("duplicate key".into()));
        let r = &span["refs"][0];
        assert_eq!(r["refType"], "CrossThread");
        assert_eq!(r["parentTraceSegmentId"], entry.span_id.to_string());

        let (_, seg) = by_name("price");
        let span = &seg["spans"][0];
        assert_eq!(span["spanType"], "Local");
        assert_eq!(span["componentId"], 11000);
        assert_eq!(tag(span, "note").map(str::len), Some(20_000));

        // Every reference names a segment (and its span 0) that was reported, or the caller's.
        for seg in &segments {
            for r in seg["spans"][0]["refs"].as_array().into_iter().flatten() {
                let parent = r["parentTraceSegmentId"].as_str().unwrap();
                assert!(
                    parent == PEER_SW8_SEGMENT
                        || segments.iter().any(|s| s["traceSegmentId"] == parent),
                    "{r} names no reported segment"
                );
            }
        }
    }
}

/// One span exported through `exporter`; the tracer's stats.
fn export_one(exporter: SkyWalkingExporter) -> traceweave::SpanStats {
    let tracer = traceweave::builder()
        .ignore_env()
        .service_name("tls-orders")
        .exporter(exporter)
        .build();
    tracer.in_scope(|| traceweave::span("tls-checked").start().end());
    assert!(
        tracer
            .shutdown_with_timeout(Duration::from_secs(15))
            .is_ok()
    );
    tracer.stats()
}

#[test]
fn an_oap_behind_tls_with_a_private_ca_is_reached_and_an_untrusted_one_refused() {
    use traceweave_tests::tls::{Pki, TlsFront};
    let Some(py) = traceweave_tests::python() else {
        return;
    };
    let oap = Oap::start(&py);
    let pki = Pki::new("skywalking");
    let grpc_front = TlsFront::start(&pki, oap.grpc, false);
    let http_front = TlsFront::start(&pki, oap.http, false);
    // gRPC by name without a scheme, TLS forced (SW_AGENT_FORCE_TLS); HTTP by an https URL.
    for exporter in [
        SkyWalkingExporter::new(&format!("localhost:{}", grpc_front.port))
            .tls(true)
            .ca_certificate(pki.ca_pem.clone()),
        SkyWalkingExporter::new(&format!("https://127.0.0.1:{}", http_front.port))
            .protocol(SkyWalkingProtocol::Http)
            .ca_certificate(pki.ca_pem.clone()),
    ] {
        let stats = export_one(exporter);
        assert_eq!(
            (stats.exported, stats.dropped()),
            (1, 0),
            "{:?}",
            stats.last_export_error
        );
    }
    let received = oap.wait_for(|r| {
        r["segments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["service"] == "tls-orders")
            .count()
            == 2
    });
    let vias: Vec<&Json> = received["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["service"] == "tls-orders")
        .map(|s| &s["_via"])
        .collect();
    assert_eq!(vias, [&Json::from("grpc"), &Json::from("http")]);

    // A certificate the exporter does not trust: refused at the handshake, not retried.
    let other = Pki::new("someone else");
    for exporter in [
        SkyWalkingExporter::new(&format!("https://127.0.0.1:{}", grpc_front.port))
            .ca_certificate(other.ca_pem.clone()),
        SkyWalkingExporter::new(&format!("https://127.0.0.1:{}", http_front.port))
            .protocol(SkyWalkingProtocol::Http)
            .ca_certificate(other.ca_pem.clone()),
    ] {
        let start = Instant::now();
        let stats = export_one(exporter);
        assert_eq!((stats.exported, stats.dropped_export_failed), (0, 1));
        let error = stats.last_export_error.unwrap();
        assert_eq!(error.kind, traceweave::ExportErrorKind::Tls, "{error}");
        assert!(error.message.contains("not retried"), "{error}");
        assert!(
            error.message.contains("SW_AGENT_SSL_TRUSTED_CA_PATH"),
            "{error}"
        );
        assert!(!error.message.contains("OTEL_"), "{error}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
}

#[test]
fn an_idle_service_is_listed_from_the_start() {
    let Some(py) = traceweave_tests::python() else {
        return;
    };
    let oap = Oap::start(&py);
    let tracer = traceweave::builder()
        .ignore_env()
        .service_name("idle")
        .resource_attribute(KeyValue::new("service.instance.id", "idle-1"))
        .exporter(
            SkyWalkingExporter::new(&format!("127.0.0.1:{}", oap.grpc))
                .heartbeat_period(Duration::from_secs(1)),
        )
        .build();
    // No span at all: the instance's properties, then a keep-alive, arrive anyway.
    let received = oap.wait_for(|r| {
        r["pings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["serviceInstance"] == "idle-1")
    });
    assert!(
        tracer
            .shutdown_with_timeout(Duration::from_secs(15))
            .is_ok()
    );
    let listed = |kind: &str| {
        received[kind]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["service"] == "idle" && p["serviceInstance"] == "idle-1")
    };
    assert!(listed("properties") && listed("pings"), "{received}");
    assert!(received["segments"].as_array().unwrap().is_empty());
    assert_eq!(tracer.stats().created, 0);
}

#[test]
fn exporters_never_show_their_secrets_in_debug_output() {
    use traceweave::export::{OtlpExporter, OtlpGrpcExporter};
    let shown = [
        format!(
            "{:?}",
            SkyWalkingExporter::new("oap:11800").authentication("s3cret-token")
        ),
        format!(
            "{:?}",
            OtlpExporter::new("http://collector:4318").header("authorization", "Bearer s3cret")
        ),
        format!(
            "{:?}",
            OtlpGrpcExporter::new("http://collector:4317").header("x-api-key", "s3cret")
        ),
    ];
    for text in &shown {
        assert!(!text.contains("s3cret"), "{text}");
    }
    assert!(
        shown[0].contains("oap:11800") && shown[0].contains("<hidden>"),
        "{}",
        shown[0]
    );
    assert!(shown[1].contains("authorization"), "{}", shown[1]);
    assert!(shown[2].contains("x-api-key"), "{}", shown[2]);
}
