//! The stand-in for SkyWalking's OAP (`peers/skywalking_oap.py`, built on the official protocol
//! modules of the SkyWalking Python agent): started per test, read back as JSON.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// The stand-in OAP, its ports, and a way to read what it received.
#[derive(Debug)]
pub struct Oap {
    child: std::process::Child,
    pub grpc: u16,
    pub http: u16,
}

impl Drop for Oap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tests/peers/<script>` with `python` (stdin and stdout piped, as `cmd` sets up the
/// rest) and returns it with the first line it prints (its "ready ..." line).
pub fn start_peer(
    python: &std::path::Path,
    script: &str,
    setup: impl FnOnce(&mut Command) -> &mut Command,
) -> (std::process::Child, String) {
    let mut cmd = Command::new(python);
    cmd.arg(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("peers")
            .join(script),
    );
    let mut child = setup(&mut cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

impl Oap {
    pub fn start(python: &std::path::Path) -> Oap {
        let (child, line) = start_peer(python, "skywalking_oap.py", |c| c);
        let port = |key: &str| -> u16 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("the OAP stand-in said {line:?}"))
        };
        let (grpc, http) = (port("grpc="), port("http="));
        Oap { child, grpc, http }
    }

    /// Everything received so far.
    pub fn received(&self) -> Json {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.http)).unwrap();
        s.write_all(b"GET /received HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let body = text.split_once("\r\n\r\n").unwrap().1;
        serde_json::from_str(body).unwrap()
    }

    /// What was received once `done` says so (at most 20 s).
    pub fn wait_for(&self, done: impl Fn(&Json) -> bool) -> Json {
        let start = Instant::now();
        loop {
            let r = self.received();
            if done(&r) || start.elapsed() > Duration::from_secs(20) {
                return r;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What the OAP relies on to join a trace's segments, checked on what it received: one trace id
/// across exactly these `services`, every reference naming a reported segment and span of the service it
/// names, every `CrossProcess` reference made by an entry span to an exit span of the other
/// service at the address that exit called, naming an entry (or local root) of the caller as
/// its endpoint, and no exit answered twice (`pairs` exit/entry pairs in all).
pub fn check_joins(received: &Json, trace: &str, services: &[&str], pairs: usize) {
    let segments: Vec<&Json> = received["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["traceId"] == trace)
        .collect();
    let services_seen: std::collections::BTreeSet<&str> = segments
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    let mut expected = services.to_vec();
    expected.sort();
    assert_eq!(
        services_seen.into_iter().collect::<Vec<_>>(),
        expected,
        "one trace id across these services: {received}"
    );
    // (segment id, span id) -> (segment, span)
    let mut spans: std::collections::HashMap<(&str, i64), (&Json, &Json)> =
        std::collections::HashMap::new();
    for seg in &segments {
        for span in seg["spans"].as_array().unwrap() {
            let key = (
                seg["traceSegmentId"].as_str().unwrap(),
                span["spanId"].as_i64().unwrap(),
            );
            assert!(
                spans.insert(key, (seg, span)).is_none(),
                "span reported twice: {key:?}"
            );
        }
    }
    let mut answered: std::collections::HashMap<(&str, i64), usize> =
        std::collections::HashMap::new();
    for seg in &segments {
        for span in seg["spans"].as_array().unwrap() {
            for r in span["refs"].as_array().into_iter().flatten() {
                assert_eq!(r["traceId"], trace, "{r}");
                let key = (
                    r["parentTraceSegmentId"].as_str().unwrap(),
                    r["parentSpanId"].as_i64().unwrap(),
                );
                let (pseg, pspan) = spans
                    .get(&key)
                    .unwrap_or_else(|| panic!("{r} names no reported segment and span"));
                assert_eq!(r["parentService"], pseg["service"], "{r}");
                assert_eq!(r["parentServiceInstance"], pseg["serviceInstance"], "{r}");
                if r["refType"] == "CrossProcess" {
                    // An entry continuing an exit of the other service, at the address it called.
                    assert_eq!(span["spanType"], "Entry", "{span}");
                    assert_eq!(pspan["spanType"], "Exit", "{pspan}");
                    assert_ne!(pseg["service"], seg["service"]);
                    // (A message sent by the MQ helpers names no broker address: `-` in sw8,
                    // no peer on the exit.)
                    let address = r["networkAddressUsedAtPeer"].as_str().unwrap();
                    let peer = pspan["peer"].as_str().unwrap();
                    assert!(
                        address == peer || (address == "-" && peer.is_empty()),
                        "{r} / {pspan}"
                    );
                    // The endpoint it names is an entry span of the caller (or the local root of
                    // a trace that started there).
                    let endpoint = r["parentEndpoint"].as_str().unwrap();
                    assert!(
                        spans.values().any(|(s, sp)| s["service"] == pseg["service"]
                            && (sp["spanType"] == "Entry"
                                || sp["refs"].as_array().is_none_or(|r| r.is_empty()))
                            && sp["operationName"] == endpoint),
                        "{r}: {endpoint:?} is not an entry of {}",
                        pseg["service"]
                    );
                    *answered.entry(key).or_default() += 1;
                } else {
                    assert_eq!(
                        pseg["service"], seg["service"],
                        "CrossThread stays in-process"
                    );
                }
            }
        }
    }
    // No exit is answered twice (an exit to a service outside the trace, such as an external
    // mailer or a database, is answered by none); `pairs` counts the answered ones.
    for (key, n) in &answered {
        assert_eq!(*n, 1, "exit {key:?} is answered by {n} entries");
    }
    assert_eq!(
        answered.len(),
        pairs,
        "exit/entry pairs of {trace}: {answered:?}"
    );
}
