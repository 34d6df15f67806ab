//! A discarding OTLP/HTTP receiver: reads each request's body, inflates it when it is gzipped
//! or zstd-compressed,
//! counts the spans in the `ExportTraceServiceRequest` and answers 200 with an empty body.
//! `GET /count` answers the spans counted so far, `POST /reset` sets the count to zero.
//! Runs in a process of its own so its CPU is not the application's. Bodies over 64 MiB
//! (compressed or inflated) close the connection unread: one request costs at most that.
//!
//! `receiver PORT`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most one request may carry, compressed or inflated (the collector's default is 64 MiB
/// too): a larger body is refused before it is read.
const MAX_BODY: usize = 64 << 20;

fn varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Calls `f(field, bytes)` for each length-delimited field of a message; skips the others.
fn fields<'a>(buf: &'a [u8], mut f: impl FnMut(u64, &'a [u8])) -> Option<()> {
    let mut at = 0;
    while at < buf.len() {
        let key = varint(buf, &mut at)?;
        match key & 7 {
            0 => {
                varint(buf, &mut at)?;
            }
            1 => at += 8,
            2 => {
                let len = usize::try_from(varint(buf, &mut at)?).ok()?;
                let body = buf.get(at..at.checked_add(len)?)?;
                at += len;
                f(key >> 3, body);
            }
            5 => at += 4,
            _ => return None,
        }
    }
    Some(())
}

/// Spans in an `ExportTraceServiceRequest`: resource_spans(1) → scope_spans(2) → spans(2).
fn count_spans(body: &[u8]) -> u64 {
    let mut n = 0;
    fields(body, |f, rs| {
        if f == 1 {
            fields(rs, |f, ss| {
                if f == 2 {
                    fields(ss, |f, _| n += u64::from(f == 2));
                }
            });
        }
    });
    n
}

fn serve(stream: TcpStream, count: &AtomicU64) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (mut length, mut encoding, mut chunked) = (0usize, String::new(), false);
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                match k.as_str() {
                    "content-length" => length = v.parse().unwrap_or(0),
                    "content-encoding" => encoding = v.to_ascii_lowercase(),
                    "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                    _ => {}
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if body.len().saturating_add(n) > MAX_BODY {
                    return Ok(());
                }
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            if length > MAX_BODY {
                return Ok(());
            }
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        }
        let answer = match (method, path) {
            ("POST", "/v1/traces") => {
                let mut inflated = Vec::new();
                let spans = match encoding.as_str() {
                    "gzip" => {
                        flate2::read::GzDecoder::new(&body[..])
                            .take(MAX_BODY as u64)
                            .read_to_end(&mut inflated)?;
                        count_spans(&inflated)
                    }
                    "zstd" => {
                        zstd::stream::read::Decoder::new(&body[..])?
                            .take(MAX_BODY as u64)
                            .read_to_end(&mut inflated)?;
                        count_spans(&inflated)
                    }
                    _ => count_spans(&body),
                };
                count.fetch_add(spans, Ordering::Relaxed);
                String::new()
            }
            ("GET", "/count") => count.load(Ordering::Relaxed).to_string(),
            ("POST", "/reset") => {
                count.store(0, Ordering::Relaxed);
                String::new()
            }
            _ => {
                out.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")?;
                continue;
            }
        };
        write!(
            out,
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        )?;
    }
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(14318);
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    let count = Arc::new(AtomicU64::new(0));
    eprintln!("receiver: listening on 127.0.0.1:{port}");
    for stream in listener.incoming().flatten() {
        let count = count.clone();
        std::thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            let _ = serve(stream, &count);
        });
    }
}
