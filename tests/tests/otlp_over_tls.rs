//! OTLP over TLS, both transports, against the real collector (rotel) behind a TLS front with a
//! certificate from a CA made in the test: delivered when the CA is trusted, refused at once
//! (never retried, named in stats) when it is not; mutual TLS; and an `https://` gRPC endpoint
//! never sees a byte of cleartext, not even the HTTP/2 preface or the authorization header.

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use traceweave::export::{OtlpExporter, OtlpGrpcExporter, OtlpProtocol};
use traceweave::{Exporter, Tracer, traced};
use traceweave_tests::free_port;
use traceweave_tests::tls::{Pki, SelfSigned, TlsFront};

#[traced(kind = server)]
fn handle() {
    let _ = child();
}

#[traced]
fn child() -> u32 {
    7
}

fn tracer_with(exporter: Box<dyn Exporter>, memory: &traceweave::InMemoryExporter) -> Tracer {
    traceweave::builder()
        .ignore_env()
        .service_name("tls-test")
        .exporter(exporter)
        .exporter(memory.clone())
        .build()
}

/// Exports one trace (two spans) and returns the tracer's stats and the trace id.
fn export_once(exporter: Box<dyn Exporter>) -> (traceweave::SpanStats, String) {
    let memory = traceweave::InMemoryExporter::new();
    let tracer = tracer_with(exporter, &memory);
    tracer.in_scope(handle);
    assert!(
        tracer
            .shutdown_with_timeout(Duration::from_secs(20))
            .is_ok()
    );
    let trace_id = memory.spans()[0].trace_id.to_string();
    (tracer.stats(), trace_id)
}

fn rotel_log_contains(log: &std::path::Path, ids: &[String]) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if ids.iter().all(|t| text.contains(t.as_str()))
            || start.elapsed() > Duration::from_secs(10)
        {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn log_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("traceweave-{name}-{}.log", std::process::id()))
}

#[test]
fn rotel_behind_tls_receives_http_and_grpc_when_the_ca_is_trusted() {
    let Some(py) = traceweave_tests::python() else {
        return;
    };
    let pki = Pki::new("trusted");
    let (http_port, grpc_port) = (free_port(), free_port());
    let log = log_path("rotel-tls");
    let _agent = traceweave_tests::start_rotel(&py, http_port, grpc_port, Some(&log));
    let http_front = TlsFront::start(&pki, http_port, false);
    let grpc_front = TlsFront::start(&pki, grpc_port, false);
    // By IP and by name: the certificate names both.
    let https = format!("https://127.0.0.1:{}", http_front.port);
    let https_by_name = format!("https://localhost:{}", http_front.port);
    let grpcs = format!("https://127.0.0.1:{}", grpc_front.port);

    let exporters: Vec<(&str, Box<dyn Exporter>)> = vec![
        (
            "http/protobuf",
            Box::new(OtlpExporter::new(&https).ca_certificate(pki.ca_pem.clone())),
        ),
        (
            "http/json by name, gzipped",
            Box::new(
                OtlpExporter::new(&https_by_name)
                    .protocol(OtlpProtocol::HttpJson)
                    .gzip(true)
                    .ca_certificate(pki.ca_pem.clone()),
            ),
        ),
        (
            "grpc",
            Box::new(OtlpGrpcExporter::new(&grpcs).ca_certificate(pki.ca_pem.clone())),
        ),
    ];
    let mut ids = Vec::new();
    for (what, exporter) in exporters {
        let (stats, trace_id) = export_once(exporter);
        assert_eq!(
            (stats.exported, stats.dropped()),
            (2, 0),
            "{what}: {:?}",
            stats.last_export_error
        );
        ids.push(trace_id);
    }
    let text = rotel_log_contains(&log, &ids);
    for id in &ids {
        assert!(
            text.contains(id.as_str()),
            "rotel never printed {id}:\n{text}"
        );
    }
    assert!(text.contains("service.name: Str(tls-test)"), "{text}");
    assert_eq!(http_front.accepted(), 2);
    assert!(grpc_front.accepted() >= 1);
    assert!(http_front.refused().is_empty() && grpc_front.refused().is_empty());
}

#[test]
fn an_untrusted_certificate_is_refused_at_once_and_named() {
    let pki = Pki::new("untrusted");
    // Nothing behind the front: a handshake that succeeded would fail differently.
    let upstream = free_port();
    let http_front = TlsFront::start(&pki, upstream, false);
    let grpc_front = TlsFront::start(&pki, upstream, false);
    let other_ca = Pki::new("someone else").ca_pem;
    let cases: Vec<(&str, Box<dyn Exporter>)> = vec![
        (
            "http, webpki roots",
            Box::new(
                OtlpExporter::new(&format!("https://127.0.0.1:{}", http_front.port))
                    .timeout(Duration::from_secs(10)),
            ),
        ),
        (
            "http, another CA",
            Box::new(
                OtlpExporter::new(&format!("https://127.0.0.1:{}", http_front.port))
                    .ca_certificate(other_ca.clone())
                    .timeout(Duration::from_secs(10)),
            ),
        ),
        (
            "grpc, webpki roots",
            Box::new(
                OtlpGrpcExporter::new(&format!("https://127.0.0.1:{}", grpc_front.port))
                    .timeout(Duration::from_secs(10)),
            ),
        ),
        (
            "grpc, another CA",
            Box::new(
                OtlpGrpcExporter::new(&format!("https://127.0.0.1:{}", grpc_front.port))
                    .ca_certificate(other_ca.clone())
                    .timeout(Duration::from_secs(10)),
            ),
        ),
    ];
    for (what, exporter) in cases {
        let refused_before = (http_front.refused().len(), grpc_front.refused().len());
        let (stats, _) = export_once(exporter);
        assert_eq!(
            (stats.exported, stats.dropped_export_failed),
            (0, 2),
            "{what}"
        );
        let kind = stats.last_export_error.as_ref().map(|e| e.kind);
        assert_eq!(kind, Some(traceweave::ExportErrorKind::Tls), "{what}");
        let err = stats
            .last_export_error
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(
            err.contains("TLS") && err.contains("not signed by a trusted authority"),
            "{what}: {err}"
        );
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_CERTIFICATE"),
            "{what}: {err}"
        );
        // A permanent error, not retried for the 10 s export timeout: one handshake at the front
        // it went to (the front records a refusal just after the client read it, so wait for it
        // before counting).
        let (front, before) = if what.starts_with("http") {
            (&http_front, refused_before.0)
        } else {
            (&grpc_front, refused_before.1)
        };
        assert_eq!(
            front.refused_count(before + 1) - before,
            1,
            "{what}: not retried"
        );
    }
    assert_eq!(http_front.accepted() + grpc_front.accepted(), 0);
}

/// A self-signed certificate the user trusts by naming it is still checked for its dates and its
/// names, and the failure line says what is wrong and what to change.
#[test]
fn an_expired_or_misnamed_self_signed_certificate_is_refused_and_named() {
    let dir = std::env::temp_dir().join(format!("traceweave-selfsigned-{}", std::process::id()));
    let expired = SelfSigned::expired();
    let misnamed = SelfSigned::openssl(&dir, "DNS:collector.example");
    let upstream = free_port(); // nothing behind: a handshake that succeeded fails differently
    let cases = [
        (&expired, "127.0.0.1", "expired on 2021-01-01 00:00:00 UTC"),
        (&misnamed, "localhost", "does not name \"localhost\""),
    ];
    for (cert, host, says) in cases {
        let front = TlsFront::with_certificate(cert, upstream);
        let url = format!("https://{host}:{}", front.port);
        let exporters: Vec<(&str, Box<dyn Exporter>)> = vec![
            (
                "http",
                Box::new(OtlpExporter::new(&url).ca_certificate(cert.cert_pem.clone())),
            ),
            (
                "grpc",
                Box::new(OtlpGrpcExporter::new(&url).ca_certificate(cert.cert_pem.clone())),
            ),
        ];
        for (what, exporter) in exporters {
            let (stats, _) = export_once(exporter);
            assert_eq!(stats.dropped_export_failed, 2, "{what} {says}");
            let err = stats
                .last_export_error
                .map(|e| e.message)
                .unwrap_or_default();
            assert!(err.contains(says), "{what}: {err}");
            assert!(!err.contains("CaUsedAsEndEntity"), "{what}: {err}");
        }
        assert_eq!(front.accepted(), 0);
    }
    let err = {
        let front = TlsFront::with_certificate(&misnamed, upstream);
        let url = format!("https://localhost:{}", front.port);
        let (stats, _) = export_once(Box::new(
            OtlpExporter::new(&url).ca_certificate(misnamed.cert_pem.clone()),
        ));
        stats
            .last_export_error
            .map(|e| e.message)
            .unwrap_or_default()
    };
    assert!(
        err.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && err.contains("subjectAltName"),
        "which setting to change: {err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// openssl's default recipe, trusted by naming it, without the collector behind it: the
/// handshake completes (nothing else is needed from the peer to prove it).
#[test]
fn a_self_signed_openssl_certificate_named_as_trusted_completes_the_handshake() {
    let dir = std::env::temp_dir().join(format!("traceweave-openssl-{}", std::process::id()));
    let cert = SelfSigned::openssl(&dir, "DNS:localhost,IP:127.0.0.1");
    let front = TlsFront::with_certificate(&cert, free_port());
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}", front.port);
        for exporter in [
            Box::new(OtlpExporter::new(&url).ca_certificate(cert.cert_pem.clone()))
                as Box<dyn Exporter>,
            Box::new(OtlpGrpcExporter::new(&url).ca_certificate(cert.cert_pem.clone())),
        ] {
            let _ = export_once(exporter);
        }
    }
    assert!(front.refused().is_empty(), "{:?}", front.refused());
    assert!(front.accepted() >= 4, "{}", front.accepted());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_tls_material_fails_every_https_export_with_one_clear_error() {
    let pki = Pki::new("material");
    let front = TlsFront::start(&pki, free_port(), false);
    let url = format!("https://127.0.0.1:{}", front.port);
    let cases: Vec<(&str, Box<dyn Exporter>, &str)> = vec![
        (
            "http: a CA that is not PEM",
            Box::new(OtlpExporter::new(&url).ca_certificate("not a certificate")),
            "holds no PEM certificate",
        ),
        (
            "grpc: a key that is a certificate",
            Box::new(
                OtlpGrpcExporter::new(&url)
                    .client_certificate(pki.client_cert_pem.clone(), pki.ca_pem.clone()),
            ),
            "holds no PEM private key",
        ),
    ];
    for (what, exporter, says) in cases {
        let (stats, _) = export_once(exporter);
        assert_eq!(stats.dropped_export_failed, 2, "{what}");
        let err = stats
            .last_export_error
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(err.contains(says), "{what}: {err}");
        assert!(
            !err.contains("PRIVATE KEY-----\n"),
            "never the key itself: {err}"
        );
    }
    // Nothing was even attempted.
    assert!(front.accepted() == 0 && front.refused().is_empty());
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let Some(py) = traceweave_tests::python() else {
        return;
    };
    let pki = Pki::new("mtls");
    let (http_port, grpc_port) = (free_port(), free_port());
    let _agent = traceweave_tests::start_rotel(&py, http_port, grpc_port, None);
    let http_front = TlsFront::start(&pki, http_port, true);
    let grpc_front = TlsFront::start(&pki, grpc_port, true);
    let https = format!("https://127.0.0.1:{}", http_front.port);
    let grpcs = format!("https://127.0.0.1:{}", grpc_front.port);

    let with_cert: Vec<Box<dyn Exporter>> = vec![
        Box::new(
            OtlpExporter::new(&https)
                .ca_certificate(pki.ca_pem.clone())
                .client_certificate(pki.client_cert_pem.clone(), pki.client_key_pem.clone()),
        ),
        Box::new(
            OtlpGrpcExporter::new(&grpcs)
                .ca_certificate(pki.ca_pem.clone())
                .client_certificate(pki.client_cert_pem.clone(), pki.client_key_pem.clone()),
        ),
    ];
    for exporter in with_cert {
        let (stats, _) = export_once(exporter);
        assert_eq!(
            (stats.exported, stats.dropped()),
            (2, 0),
            "{:?}",
            stats.last_export_error
        );
    }
    // Under TLS 1.3 the client learns of the refusal after its side of the handshake is done:
    // it reads the server's alert (a TLS failure, not retried) or, when the server's close
    // wins the race, a broken connection (retried like any, until the export timeout).
    let without: Vec<Box<dyn Exporter>> = vec![
        Box::new(
            OtlpExporter::new(&https)
                .ca_certificate(pki.ca_pem.clone())
                .timeout(Duration::from_secs(2)),
        ),
        Box::new(
            OtlpGrpcExporter::new(&grpcs)
                .ca_certificate(pki.ca_pem.clone())
                .timeout(Duration::from_secs(2)),
        ),
    ];
    for exporter in without {
        let (stats, _) = export_once(exporter);
        assert_eq!((stats.exported, stats.dropped_export_failed), (0, 2));
        assert!(stats.last_export_error.is_some());
    }
    // The front records its side of a refusal just after sending the alert the client read.
    let start = Instant::now();
    while http_front.refused().len() + grpc_front.refused().len() < 2
        && start.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        http_front.refused().len() + grpc_front.refused().len() >= 2,
        "the front refused the clients without a certificate"
    );
}

/// Everything one connection to a raw listener sent, until the client closed it or `wait`
/// passed.
fn capture(listener: TcpListener, wait: Duration) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let Ok((mut stream, _)) = listener.accept() else {
            return bytes;
        };
        stream.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
        }
        bytes
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

const SECRET: &str = "Bearer s3cret-token-never-in-cleartext";

#[test]
fn an_https_grpc_endpoint_never_receives_cleartext() {
    for scheme_less in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = capture(listener, Duration::from_secs(2));
        let endpoint = if scheme_less {
            // No scheme and not insecure: TLS, as OTEL_EXPORTER_OTLP_INSECURE's default says.
            format!("127.0.0.1:{port}")
        } else {
            format!("https://127.0.0.1:{port}")
        };
        let exporter = OtlpGrpcExporter::new(&endpoint)
            .header("authorization", SECRET)
            .timeout(Duration::from_secs(2));
        let (stats, _) = export_once(Box::new(exporter));
        assert_eq!(stats.exported, 0);
        let bytes = seen.join().unwrap();
        assert!(!bytes.is_empty(), "the exporter connected");
        assert_eq!(bytes[0], 0x16, "a TLS handshake record comes first");
        assert!(
            !contains(&bytes, b"PRI * HTTP/2.0"),
            "no cleartext HTTP/2 preface"
        );
        assert!(
            !contains(&bytes, SECRET.as_bytes()),
            "no cleartext credentials"
        );
    }
}

#[test]
fn an_http_grpc_endpoint_stays_plaintext() {
    // The control for the test above: the same listener sees the preface and the header when
    // the endpoint asked for plaintext (http://, or no scheme with insecure).
    for endpoint in ["http://127.0.0.1:{port}", "127.0.0.1:{port}"] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = capture(listener, Duration::from_secs(1));
        let exporter = OtlpGrpcExporter::new(&endpoint.replace("{port}", &port.to_string()))
            .insecure(true)
            .header("authorization", SECRET)
            .timeout(Duration::from_secs(1));
        let _ = export_once(Box::new(exporter));
        let bytes = seen.join().unwrap();
        assert!(contains(&bytes, b"PRI * HTTP/2.0"), "{endpoint}");
    }
}

#[test]
fn an_https_http_endpoint_never_receives_cleartext() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = capture(listener, Duration::from_secs(2));
    let exporter = OtlpExporter::new(&format!("https://127.0.0.1:{port}"))
        .header("authorization", SECRET)
        .timeout(Duration::from_secs(2));
    let _ = export_once(Box::new(exporter));
    let bytes = seen.join().unwrap();
    assert_eq!(
        bytes.first(),
        Some(&0x16),
        "a TLS handshake record comes first"
    );
    assert!(!contains(&bytes, b"POST "), "no cleartext request line");
    assert!(
        !contains(&bytes, SECRET.as_bytes()),
        "no cleartext credentials"
    );
}
