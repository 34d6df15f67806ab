//! The README's first command, configured by the environment alone, delivers its trace to a real
//! OTLP collector (rotel) over http/protobuf, http/json and gRPC, in plaintext and over TLS
//! (rotel behind a TLS front whose certificate comes from a CA made here, trusted through
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`; mutual TLS through `..._CLIENT_CERTIFICATE/KEY`). Without
//! the CA file the export is refused at once with one line on stderr that says what to set.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use traceweave_tests::free_port;
use traceweave_tests::tls::{Pki, SelfSigned, TlsFront};

fn quickstart(env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quickstart"));
    // Only what the test sets: nothing inherited from the shell configures the run.
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("the quickstart runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn quickstart_reaches_rotel_by_every_protocol_plain_and_tls() {
    let Some(py) = traceweave_tests::python() else {
        return;
    };
    let pki = Pki::new("quickstart");
    let dir = std::env::temp_dir().join(format!("traceweave-qs-{}", std::process::id()));
    let files = pki.write(&dir);
    let (ca, cert, key) = (
        files.ca.to_str().unwrap(),
        files.client_cert.to_str().unwrap(),
        files.client_key.to_str().unwrap(),
    );
    let (http_port, grpc_port) = (free_port(), free_port());
    let log = dir.join("rotel.log");
    let _rotel = traceweave_tests::start_rotel(&py, http_port, grpc_port, Some(&log));
    let https = TlsFront::start(&pki, http_port, false);
    let grpcs = TlsFront::start(&pki, grpc_port, false);
    let mtls = TlsFront::start(&pki, grpc_port, true);
    // What most people make for a private collector: openssl's default recipe (CA:TRUE).
    let own = SelfSigned::openssl(&dir, "DNS:localhost,IP:127.0.0.1");
    let own_file = own.write_cert(&dir, "collector.pem");
    let own_file = own_file.to_str().unwrap();
    let own_https = TlsFront::with_certificate(&own, http_port);
    let own_grpcs = TlsFront::with_certificate(&own, grpc_port);

    let plain_http = format!("http://127.0.0.1:{http_port}");
    let plain_grpc = format!("http://127.0.0.1:{grpc_port}");
    let tls_http = format!("https://localhost:{}", https.port);
    let tls_http_traces = format!("{tls_http}/v1/traces");
    let tls_grpc = format!("https://127.0.0.1:{}", grpcs.port);
    let mtls_grpc = format!("https://localhost:{}", mtls.port);
    let own_http = format!("https://localhost:{}", own_https.port);
    let own_grpc = format!("https://127.0.0.1:{}", own_grpcs.port);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "plain-protobuf",
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", &plain_http)],
        ),
        (
            "plain-json",
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &plain_http),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ],
        ),
        (
            "plain-grpc",
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &plain_grpc),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ],
        ),
        (
            "tls-protobuf",
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &tls_http),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca),
            ],
        ),
        (
            "tls-json",
            vec![
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &tls_http_traces),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
                ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", ca),
            ],
        ),
        (
            "tls-grpc",
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &tls_grpc),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca),
            ],
        ),
        (
            "mtls-grpc",
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &mtls_grpc),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca),
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key),
            ],
        ),
        (
            "self-signed-protobuf",
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &own_http),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", own_file),
            ],
        ),
        (
            "self-signed-grpc",
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &own_grpc),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", own_file),
            ],
        ),
    ];
    let mut services = Vec::new();
    for (case, vars) in &cases {
        let service = format!("quickstart-{case}");
        let mut env = vec![
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_SERVICE_NAME", service.as_str()),
        ];
        env.extend(vars.iter().copied());
        let out = quickstart(&env);
        let err = stderr(&out);
        assert!(
            !err.contains("traceweave:"),
            "{case}: no warning, no export failure:\n{err}"
        );
        services.push(service);
    }
    let wanted: Vec<String> = services
        .iter()
        .map(|s| format!("service.name: Str({s})"))
        .collect();
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if wanted.iter().all(|w| text.contains(w.as_str()))
            || start.elapsed() > Duration::from_secs(10)
        {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for w in &wanted {
        assert!(text.contains(w.as_str()), "rotel never received {w}");
    }
    assert!(text.contains("Name           : checkout"), "{text}");
    assert!(text.contains("Name           : charge"), "{text}");
    assert!(https.accepted() >= 2 && grpcs.accepted() >= 1 && mtls.accepted() >= 1);
    assert!(own_https.accepted() >= 1 && own_grpcs.accepted() >= 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quickstart_without_the_ca_says_so_once_and_moves_on() {
    let pki = Pki::new("untrusted");
    let front = TlsFront::start(&pki, free_port(), false);
    for protocol in ["http/protobuf", "grpc"] {
        let endpoint = format!("https://127.0.0.1:{}", front.port);
        let refused_before = front.refused().len();
        let out = quickstart(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20hunter2",
            ),
        ]);
        let err = stderr(&out);
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("traceweave:"))
            .collect();
        assert_eq!(lines.len(), 1, "{protocol}: one line: {lines:#?}");
        assert!(
            lines[0].contains("TLS") && lines[0].contains("OTEL_EXPORTER_OTLP_CERTIFICATE"),
            "{protocol}: {}",
            lines[0]
        );
        assert!(!err.contains("hunter2"), "never the header value");
        // Refused at once: one handshake, not retried for the export timeout.
        assert_eq!(
            front.refused_count(refused_before + 1) - refused_before,
            1,
            "{protocol}: {:?}",
            front.refused()
        );
    }
    assert_eq!(front.accepted(), 0);
}
