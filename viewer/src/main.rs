//! `traceweave-view serve | report | tree`: see `traceweave-view --help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use traceweave_view::report::ReportError;
use traceweave_view::{Retention, Store, StoreError, report, server, tree};

/// Why a command could not run; printed after `traceweave-view: `.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// The command line is wrong; the text says how, with the help where it helps.
    #[error("{0}")]
    Usage(String),
    #[error("span store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot {what} on {addr}: {source}")]
    Listen {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("{}: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn usage(text: String) -> CliError {
    CliError::Usage(text)
}

const HELP: &str = "\
traceweave-view: a local trace viewer

USAGE:
  traceweave-view serve [--otlp ADDR] [--ui ADDR] [--db FILE] [--retain-spans N]
                        [--retain-bytes SIZE] [--retain-hours H] [--max-body-mib N]
                        [--allow-host NAME]...
      Receive OTLP/HTTP (POST /v1/traces: protobuf or JSON, gzip or zstd) on --otlp (default
      127.0.0.1:4318) from any OpenTelemetry exporter, and serve the UI on --ui (default
      127.0.0.1:16686). Spans live in memory unless --db names a SQLite file (kept across
      restarts; one process per file). The oldest traces go beyond --retain-spans (default
      2000000) spans, --retain-bytes (default 1G; K, M, G suffixes) of span data, or
      --retain-hours hours. A request body may hold --max-body-mib (default 16) MiB, gzip/zstd
      inflated included. The UI answers only to Host names of loopback, of its --ui address,
      and of --allow-host (repeat it for more): a web page cannot read your traces.
  traceweave-view report FILE... [-o OUT] [--title TITLE]
      Write the UI with the traces of FILEs (OTLP-JSON lines, as traceweave's FileExporter and
      the OpenTelemetry Collector's file exporter write, or Zipkin v2 JSON) as one
      self-contained HTML file (default trace.html).
  traceweave-view tree FILE...
      Print each trace of FILEs as a text tree.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("report") => report_cmd(&args[1..]),
        Some("tree") => tree_cmd(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{HELP}");
            Ok(())
        }
        _ => Err(usage(format!("expected a command\n\n{HELP}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("traceweave-view: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `(flag, value)` pairs, and the positional arguments.
type Parsed<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);

/// Splits `--flag value` options (named in `flags`) from positional arguments.
fn options<'a>(args: &'a [String], flags: &[&str]) -> Result<Parsed<'a>, CliError> {
    let mut opts = Vec::new();
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if flags.contains(&a.as_str()) {
            let v = it
                .next()
                .ok_or_else(|| usage(format!("{a} needs a value")))?;
            opts.push((a.as_str(), v.as_str()));
        } else if a.starts_with('-') {
            return Err(usage(format!("unknown option {a}\n\n{HELP}")));
        } else {
            rest.push(a.as_str());
        }
    }
    Ok((opts, rest))
}

fn parse<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, CliError>
where
    T::Err: std::fmt::Display,
{
    v.parse().map_err(|e| usage(format!("{flag} {v}: {e}")))
}

/// A byte count: a number, or one with a K, M or G suffix (powers of 1024).
fn size(flag: &str, v: &str) -> Result<u64, CliError> {
    let t = v.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], t[i..].to_ascii_lowercase()),
        None => (t, String::new()),
    };
    let shift = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        other => {
            return Err(usage(format!(
                "{flag} {v}: unknown unit {other:?} (K, M or G)"
            )));
        }
    };
    let n: u64 = parse(flag, digits.trim())?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| usage(format!("{flag} {v}: too large")))
}

fn serve(args: &[String]) -> Result<(), CliError> {
    let (opts, rest) = options(
        args,
        &[
            "--otlp",
            "--ui",
            "--db",
            "--retain-spans",
            "--retain-bytes",
            "--retain-hours",
            "--max-body-mib",
            "--allow-host",
        ],
    )?;
    if let Some(extra) = rest.first() {
        return Err(usage(format!("serve takes no argument {extra}")));
    }
    let mut otlp: SocketAddr = "127.0.0.1:4318".parse().expect("literal");
    let mut ui: SocketAddr = "127.0.0.1:16686".parse().expect("literal");
    let mut db: Option<PathBuf> = None;
    let mut retention = Retention::default();
    let mut receiver = server::ReceiverOptions::default();
    let mut allow_hosts: Vec<String> = Vec::new();
    for (flag, v) in opts {
        match flag {
            "--otlp" => otlp = parse(flag, v)?,
            "--ui" => ui = parse(flag, v)?,
            "--db" => db = Some(v.into()),
            "--retain-spans" => retention.max_spans = parse(flag, v)?,
            "--retain-bytes" => retention.max_bytes = size(flag, v)?,
            "--max-body-mib" => {
                let mib: usize = parse(flag, v)?;
                receiver.max_body = mib.clamp(1, 1024) << 20;
            }
            "--allow-host" => allow_hosts.push(v.trim().to_owned()),
            _ => {
                let hours: f64 = parse(flag, v)?;
                retention.max_age_ns = Some((hours * 3600e9) as i64);
            }
        }
    }
    // The UI's own address, when it is not loopback, is a name it answers to.
    allow_hosts.push(ui.ip().to_string());
    let store = match &db {
        Some(path) => Store::file(path, retention),
        None => Store::memory(retention),
    }?;
    let store = Arc::new(store);
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(async move {
        let listen = |what, addr| move |source| CliError::Listen { what, addr, source };
        let otlp_listener = tokio::net::TcpListener::bind(otlp)
            .await
            .map_err(listen("listen for OTLP", otlp))?;
        let ui_listener = tokio::net::TcpListener::bind(ui)
            .await
            .map_err(listen("serve the UI", ui))?;
        let otlp = (otlp_listener.local_addr()).map_err(listen("listen for OTLP", otlp))?;
        let ui = (ui_listener.local_addr()).map_err(listen("serve the UI", ui))?;
        println!("traceweave-view: OTLP/HTTP on http://{otlp}/v1/traces");
        println!("traceweave-view: UI on http://{ui}/");
        match &db {
            Some(path) => println!(
                "traceweave-view: spans kept in {} ({} stored)",
                path.display(),
                store.span_count()
            ),
            None => println!("traceweave-view: spans kept in memory (--db FILE to keep them)"),
        }
        let stop = server::Stop::default();
        let a = tokio::spawn(server::serve(
            otlp_listener,
            server::otlp_router_with(store.clone(), receiver),
            stop.signal(),
        ));
        let b = tokio::spawn(server::serve(
            ui_listener,
            server::ui_router_with(store.clone(), allow_hosts),
            stop.signal(),
        ));
        let _ = tokio::signal::ctrl_c().await;
        println!(
            "traceweave-view: stopping ({} spans stored)",
            store.span_count()
        );
        stop.stop();
        let _ = a.await;
        let _ = b.await;
        Ok::<(), CliError>(())
    })
}

fn report_cmd(args: &[String]) -> Result<(), CliError> {
    let (opts, files) = options(args, &["-o", "--output", "--title"])?;
    if files.is_empty() {
        return Err(usage(format!("report needs at least one file\n\n{HELP}")));
    }
    let mut out = PathBuf::from("trace.html");
    let mut title = String::from("traceweave report");
    for (flag, v) in opts {
        match flag {
            "--title" => title = v.to_owned(),
            _ => out = v.into(),
        }
    }
    let store = report::load_files(&files)?;
    let html = report::html(&store, &title)?;
    std::fs::write(&out, html).map_err(|source| CliError::Write {
        path: out.clone(),
        source,
    })?;
    println!(
        "traceweave-view: {} spans in {} traces -> {}",
        store.span_count(),
        store.all_traces().map_or(0, |t| t.len()),
        out.display()
    );
    Ok(())
}

fn tree_cmd(args: &[String]) -> Result<(), CliError> {
    let (_, files) = options(args, &[])?;
    let store = report::load_files(&files)?;
    print!("{}", tree::render_all(&store)?);
    Ok(())
}
