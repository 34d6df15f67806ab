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

impl Oap {
    pub fn start(python: &std::path::Path) -> Oap {
        let mut child = Command::new(python)
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/skywalking_oap.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
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
