//! A misbehaving receiver on loopback: 503 then 200, 429 with Retry-After, 400, connection
//! refused for a while, a receiver that hangs. Each proves the delivery policy, the exact
//! dropped count, that nothing the queue could hold is lost, and that the application thread
//! never waits for the collector. The SkyWalking exporter follows the same policy (HTTP and a
//! dead gRPC OAP).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use traceweave::export::{OtlpExporter, SkyWalkingExporter, SkyWalkingProtocol};
use traceweave::{ExportErrorKind, Tracer, traced};

#[derive(Clone, Copy, Debug)]
enum Reply {
    Status(u16, Option<&'static str>),
    Hang,
}

/// An HTTP receiver that answers each request with the next scripted reply (the last one
/// repeats) and records when each request arrived.
struct Receiver {
    port: u16,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    bodies: Arc<Mutex<usize>>,
}

impl Receiver {
    fn start(script: Vec<Reply>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Self::serve(listener, script)
    }

    fn serve(listener: TcpListener, script: Vec<Reply>) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let bodies = Arc::new(Mutex::new(0));
        let (a, b) = (arrivals.clone(), bodies.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut len = 0usize;
                let mut management = false;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    // SkyWalking's instance reports are answered, not scripted nor counted.
                    management |= line.starts_with("POST /v3/management/");
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                if management {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    continue;
                }
                a.lock().unwrap().push(Instant::now());
                let reply = script[n.min(script.len() - 1)];
                n += 1;
                match reply {
                    Reply::Hang => {
                        // Hold the connection open without answering.
                        std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_secs(30));
                            drop(stream);
                        });
                    }
                    Reply::Status(code, retry_after) => {
                        if (200..300).contains(&code) {
                            *b.lock().unwrap() += 1;
                        }
                        let extra = retry_after
                            .map(|v| format!("retry-after: {v}\r\n"))
                            .unwrap_or_default();
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {code} X\r\n{extra}content-length: 0\r\nconnection: close\r\n\r\n"
                        );
                    }
                }
            }
        });
        Receiver {
            port,
            arrivals,
            bodies,
        }
    }

    fn requests(&self) -> usize {
        self.arrivals.lock().unwrap().len()
    }
}

#[traced]
fn work() {}

fn tracer(port: u16, timeout: Duration) -> Tracer {
    traceweave::builder()
        .ignore_env()
        .schedule_delay(Duration::from_millis(20))
        .export_timeout(Duration::from_secs(30))
        .exporter(OtlpExporter::new(&format!("http://127.0.0.1:{port}")).timeout(timeout))
        .build()
}

fn produce(tracer: &Tracer, n: usize) -> Duration {
    let start = Instant::now();
    tracer.in_scope(|| {
        for _ in 0..n {
            work();
        }
    });
    start.elapsed()
}

#[test]
fn a_503_is_retried_then_delivered() {
    let rx = Receiver::start(vec![Reply::Status(503, None), Reply::Status(200, None)]);
    let t = tracer(rx.port, Duration::from_secs(10));
    produce(&t, 10);
    assert!(t.shutdown_with_timeout(Duration::from_secs(20)).is_ok());
    let s = t.stats();
    assert_eq!((s.created, s.exported, s.dropped()), (10, 10, 0));
    assert_eq!(rx.requests(), 2);
}

#[test]
fn a_429_waits_for_retry_after() {
    let rx = Receiver::start(vec![
        Reply::Status(429, Some("1")),
        Reply::Status(200, None),
    ]);
    let t = tracer(rx.port, Duration::from_secs(10));
    produce(&t, 5);
    assert!(t.shutdown_with_timeout(Duration::from_secs(20)).is_ok());
    assert_eq!(t.stats().exported, 5);
    let arrivals = rx.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 2);
    assert!(
        arrivals[1] - arrivals[0] >= Duration::from_millis(950),
        "{:?}",
        arrivals[1] - arrivals[0]
    );
}

#[test]
fn a_400_is_never_retried_and_counts_as_dropped() {
    let rx = Receiver::start(vec![Reply::Status(400, None)]);
    let t = tracer(rx.port, Duration::from_secs(10));
    produce(&t, 7);
    assert!(t.shutdown_with_timeout(Duration::from_secs(20)).is_ok());
    let s = t.stats();
    assert_eq!((s.created, s.exported, s.dropped_export_failed), (7, 0, 7));
    assert_eq!(rx.requests(), 1);
}

#[test]
fn delivery_resumes_when_the_collector_comes_back() {
    // Reserve a port with nothing listening yet: connections are refused.
    let port = traceweave_tests::free_port();
    let t = tracer(port, Duration::from_secs(10));
    produce(&t, 20);
    std::thread::sleep(Duration::from_millis(400));
    let rx = Receiver::serve(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        vec![Reply::Status(200, None)],
    );
    assert!(t.shutdown_with_timeout(Duration::from_secs(20)).is_ok());
    let s = t.stats();
    assert_eq!(
        (s.created, s.exported, s.dropped()),
        (20, 20, 0),
        "nothing the queue held was lost"
    );
    assert!(rx.requests() >= 1);
}

#[test]
fn a_hanging_collector_never_slows_the_application() {
    let healthy = Receiver::start(vec![Reply::Status(200, None)]);
    let hanging = Receiver::start(vec![Reply::Hang]);
    let normal = tracer(healthy.port, Duration::from_secs(2));
    // A 2048-span queue: shutdown then has 4 batches left to try against the hanging
    // receiver (2 s each), inside the 20 s the test gives it.
    let stuck = traceweave::builder()
        .ignore_env()
        .schedule_delay(Duration::from_millis(20))
        .max_queue_size(2048)
        .exporter(
            OtlpExporter::new(&format!("http://127.0.0.1:{}", hanging.port))
                .timeout(Duration::from_secs(2)),
        )
        .build();
    // Warm both, then let the stuck one's collector sit inside a hanging request.
    produce(&normal, 1000);
    produce(&stuck, 1);
    let start = Instant::now();
    while hanging.requests() == 0 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Alternated rounds, the fastest of each: the machine's load (another build) moves both
    // alike, and a preempted round does not count.
    let (rounds, n) = (4, 25_000);
    let (mut fine, mut during_hang) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        fine = fine.min(produce(&normal, n));
        during_hang = during_hang.min(produce(&stuck, n));
    }
    eprintln!(
        "per span on the application thread: healthy collector {:.1} ns, hanging collector {:.1} ns",
        fine.as_nanos() as f64 / n as f64,
        during_hang.as_nanos() as f64 / n as f64
    );
    // Never blocked: a blocking exporter would add the 2 s timeout per batch, hundreds of times
    // what the application pays beside a healthy collector.
    assert!(
        during_hang < fine * 4,
        "hanging {during_hang:?} vs healthy {fine:?}"
    );
    assert!(stuck.shutdown_with_timeout(Duration::from_secs(20)).is_ok());
    let s = stuck.stats();
    assert_eq!(s.created, (rounds * n) as u64 + 1);
    assert_eq!(s.exported, 0);
    assert_eq!(s.created, s.exported + s.dropped(), "{s:?}");
    assert!(
        s.dropped_queue_full > 0,
        "the bounded queue overflowed and counted: {s:?}"
    );
    assert!(
        normal
            .shutdown_with_timeout(Duration::from_secs(20))
            .is_ok()
    );
    let s = normal.stats();
    assert_eq!(s.created, s.exported + s.dropped());
}

#[test]
fn shutdown_delivers_everything_queued_within_the_deadline() {
    let rx = Receiver::start(vec![Reply::Status(200, None)]);
    let t = traceweave::builder()
        .ignore_env()
        .schedule_delay(Duration::from_secs(600))
        .exporter(OtlpExporter::new(&format!("http://127.0.0.1:{}", rx.port)))
        .build();
    produce(&t, 1500);
    assert_eq!(rx.requests(), 0, "nothing sent before the flush");
    assert!(t.shutdown_with_timeout(Duration::from_secs(10)).is_ok());
    let s = t.stats();
    assert_eq!((s.created, s.exported, s.dropped()), (1500, 1500, 0));
    assert_eq!(
        *rx.bodies.lock().unwrap(),
        3,
        "1500 spans in batches of 512"
    );
}

#[test]
fn permanent_refusals_are_never_retried_and_named_in_stats() {
    for (code, hint) in [
        (401, "authorization"),
        (403, "authorization"),
        (404, "/v1/traces"),
        (413, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
    ] {
        let rx = Receiver::start(vec![Reply::Status(code, None)]);
        let t = tracer(rx.port, Duration::from_secs(10));
        produce(&t, 3);
        assert!(t.shutdown_with_timeout(Duration::from_secs(20)).is_ok());
        let s = t.stats();
        assert_eq!((s.exported, s.dropped_export_failed), (0, 3), "{code}");
        assert_eq!(rx.requests(), 1, "{code} is not retried");
        let error = s.last_export_error.expect("the last error is in stats");
        assert_eq!(error.kind, ExportErrorKind::HttpStatus(code), "{error}");
        assert!(
            error.message.contains(&format!("answered {code}")) && error.message.contains(hint),
            "{error}"
        );
    }
}

#[test]
fn a_url_that_cannot_work_fails_at_once() {
    let t = traceweave::builder()
        .ignore_env()
        .schedule_delay(Duration::from_millis(20))
        .exporter(
            OtlpExporter::new("http://exa mple.invalid:4318").timeout(Duration::from_secs(10)),
        )
        .build();
    produce(&t, 2);
    assert!(t.shutdown_with_timeout(Duration::from_secs(20)).is_ok());
    let s = t.stats();
    assert_eq!(s.dropped_export_failed, 2);
    let error = s.last_export_error.unwrap();
    assert_eq!(error.kind, ExportErrorKind::Configuration, "{error}");
    assert!(error.message.contains("not retried"));
}

#[test]
fn retry_after_zero_still_waits_a_floor() {
    let rx = Receiver::start(vec![
        Reply::Status(503, Some("0")),
        Reply::Status(429, Some("Sun, 06 Nov 1994 08:49:37 GMT")),
        Reply::Status(200, None),
    ]);
    let t = tracer(rx.port, Duration::from_secs(10));
    produce(&t, 4);
    assert!(t.shutdown_with_timeout(Duration::from_secs(20)).is_ok());
    assert_eq!(t.stats().exported, 4);
    let arrivals = rx.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 3);
    for gap in [arrivals[1] - arrivals[0], arrivals[2] - arrivals[1]] {
        assert!(gap >= Duration::from_millis(95), "{gap:?}");
    }
}

/// Runs in a child process (see below): 10 exports refused with 404, then 401s.
#[test]
#[ignore = "run by failures_are_reported_once_per_kind_on_stderr in a child process"]
fn child_with_a_refusing_receiver() {
    if std::env::var_os("TRACEWEAVE_FAILURE_CHILD").is_none() {
        return;
    }
    let mut script = vec![Reply::Status(404, None); 10];
    script.push(Reply::Status(401, None));
    let rx = Receiver::start(script);
    let t = tracer(rx.port, Duration::from_secs(10));
    for _ in 0..25 {
        produce(&t, 2);
        assert!(t.force_flush().is_ok());
    }
    assert!(t.shutdown_with_timeout(Duration::from_secs(20)).is_ok());
    assert_eq!(rx.requests(), 25);
    assert_eq!(t.stats().dropped_export_failed, 50);
}

#[test]
fn failures_are_reported_once_per_kind_on_stderr() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_with_a_refusing_receiver",
            "--ignored",
            "--nocapture",
        ])
        .env("TRACEWEAVE_FAILURE_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("traceweave: export"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains("answered 404") && lines[0].contains("2 spans dropped"));
    assert!(lines[1].contains("answered 401"), "{}", lines[1]);
}

fn skywalking(port: u16, protocol: SkyWalkingProtocol) -> Tracer {
    traceweave::builder()
        .ignore_env()
        .schedule_delay(Duration::from_millis(20))
        .export_timeout(Duration::from_secs(30))
        .exporter(
            SkyWalkingExporter::new(&format!("127.0.0.1:{port}"))
                .protocol(protocol)
                .timeout(Duration::from_secs(10)),
        )
        .build()
}

#[test]
fn skywalking_over_http_retries_a_503_and_never_a_401() {
    let rx = Receiver::start(vec![Reply::Status(503, None), Reply::Status(200, None)]);
    let t = skywalking(rx.port, SkyWalkingProtocol::Http);
    produce(&t, 10);
    assert!(t.shutdown_with_timeout(Duration::from_secs(20)).is_ok());
    let s = t.stats();
    assert_eq!((s.created, s.exported, s.dropped()), (10, 10, 0));
    assert_eq!(rx.requests(), 2);

    let rx = Receiver::start(vec![Reply::Status(401, None)]);
    let t = skywalking(rx.port, SkyWalkingProtocol::Http);
    produce(&t, 4);
    assert!(t.shutdown_with_timeout(Duration::from_secs(20)).is_ok());
    let s = t.stats();
    assert_eq!((s.exported, s.dropped_export_failed), (0, 4));
    assert_eq!(rx.requests(), 1, "401 is not retried");
    let error = s.last_export_error.unwrap();
    assert!(
        error.message.contains("/v3/segments answered 401")
            && error.message.contains("SW_AGENT_AUTHENTICATION"),
        "{error}"
    );
}

#[test]
fn a_dead_oap_costs_the_application_nothing_and_every_span_is_counted() {
    // Nothing listens: gRPC connections are refused, retried until the export timeout.
    let port = traceweave_tests::free_port();
    let t = traceweave::builder()
        .ignore_env()
        .schedule_delay(Duration::from_millis(20))
        .exporter(
            SkyWalkingExporter::new(&format!("127.0.0.1:{port}"))
                .timeout(Duration::from_millis(800)),
        )
        .build();
    // The application's cost with the OAP dead, against the same work with no exporter.
    let baseline = traceweave::builder()
        .ignore_env()
        .exporter(traceweave::InMemoryExporter::new())
        .build();
    let quiet = (0..5).map(|_| produce(&baseline, 2000)).min().unwrap();
    let dead = (0..5).map(|_| produce(&t, 2000)).min().unwrap();
    assert!(
        dead < quiet * 4 + Duration::from_millis(20),
        "dead OAP: {dead:?} for 2000 spans, no exporter: {quiet:?}"
    );
    let start = Instant::now();
    assert!(t.shutdown_with_timeout(Duration::from_secs(20)).is_ok());
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    let s = t.stats();
    assert_eq!(s.created, 10_000);
    assert_eq!(
        s.exported + s.dropped(),
        s.created,
        "every span is counted: {s:?}"
    );
    assert_eq!(s.exported, 0);
    let error = s.last_export_error.unwrap();
    assert!(
        error.message.contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
}
