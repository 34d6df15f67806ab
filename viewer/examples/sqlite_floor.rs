//! What the span rows alone cost SQLite: the floor under the viewer's ingest rate. Inserts
//! realistic span rows (traces of 10 spans, random trace ids, 5 attributes as JSON) into an
//! in-memory database, in transactions of 1000 as ingest does, keyed four ways: by the hex ids
//! with the two indexes the queries need (a span by id, the children of a span), by integers
//! with the trace numbered in order of arrival (the store's layout since schema 3 numbers
//! traces that way and keeps span ids as hex), by integers with random trace numbers, and the
//! table alone. Nothing else: no decoding, no trace summaries, no service map, no HTTP.
//!
//! ```text
//! cargo run --release -p traceweave-view --example sqlite_floor -- [--spans N]
//! ```

use std::time::Instant;

use rusqlite::types::Value;

/// The store's `spans` table keyed by a `trace` column of `trace_type` and span ids of
/// `span_type`, with the two indexes its queries need (a span by id; a span's children) or
/// without them.
fn spans_table(trace: &str, trace_type: &str, span_type: &str, indexes: bool) -> String {
    let table = format!(
        "CREATE TABLE spans(
  {trace} {trace_type} NOT NULL, span_id {span_type} NOT NULL, parent_id {span_type},
  service TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL, start_ns INTEGER NOT NULL,
  end_ns INTEGER NOT NULL, status INTEGER NOT NULL, status_message TEXT NOT NULL,
  attributes TEXT NOT NULL, events TEXT NOT NULL, links TEXT NOT NULL,
  resource_id INTEGER NOT NULL, scope_id INTEGER NOT NULL, peer TEXT,
  peer_is_db INTEGER NOT NULL DEFAULT 0, truncated INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL);"
    );
    if !indexes {
        return table;
    }
    format!(
        "{table}
CREATE UNIQUE INDEX spans_id ON spans({trace}, span_id);
CREATE INDEX spans_parent ON spans({trace}, parent_id);"
    )
}

const ATTRIBUTES: &str = r#"{"http.request.method":"GET","http.response.status_code":200,"http.route":"/api/orders/{id}","server.address":"orders.internal","user.id":"user-12345"}"#;

/// How the rows are keyed.
#[derive(Clone, Copy)]
enum Layout {
    /// Hex text ids with the two indexes (the store's layout until schema 3).
    Hex,
    /// Hex text ids, no index.
    HexAlone,
    /// Integer keys (trace numbers in order of arrival, span ids as i64) with the two indexes.
    Integer,
    /// Integer keys, the trace's number random (as its id is).
    IntegerRandom,
    /// The trace's number in order of arrival, span ids as hex text.
    NumberedTraces,
}

/// Microseconds per span for `n` spans.
fn run(n: u64, layout: Layout) -> rusqlite::Result<f64> {
    let mut conn = rusqlite::Connection::open_in_memory()?;
    conn.execute_batch(&match layout {
        Layout::Hex => spans_table("trace_id", "TEXT", "TEXT", true),
        Layout::HexAlone => spans_table("trace_id", "TEXT", "TEXT", false),
        Layout::Integer | Layout::IntegerRandom => {
            spans_table("trace_no", "INTEGER", "INTEGER", true)
        }
        Layout::NumberedTraces => spans_table("trace_no", "INTEGER", "TEXT", true),
    })?;
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut trace = String::new();
    let mut trace_key = 0i64;
    let base = 1_700_000_000_000_000_000_i64;
    let start = Instant::now();
    for chunk in 0..n.div_ceil(1000) {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO spans VALUES
                 (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
            )?;
            for i in 0..1000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let t = chunk * 100 + i / 10;
                if i % 10 == 0 {
                    trace = format!("{x:016x}{t:016x}");
                    trace_key = x as i64;
                }
                let (trace, span, parent): (Value, Value, Value) = match layout {
                    Layout::Integer | Layout::IntegerRandom => (
                        if matches!(layout, Layout::Integer) {
                            t as i64
                        } else {
                            trace_key
                        }
                        .into(),
                        (x.rotate_left(7) as i64).into(),
                        (i % 10 != 0).then(|| x.rotate_left(9) as i64).into(),
                    ),
                    Layout::NumberedTraces => (
                        (t as i64).into(),
                        format!("{:016x}", x.rotate_left(7)).into(),
                        (i % 10 != 0)
                            .then(|| format!("{:016x}", x.rotate_left(9)))
                            .into(),
                    ),
                    Layout::Hex | Layout::HexAlone => (
                        trace.clone().into(),
                        format!("{:016x}", x.rotate_left(7)).into(),
                        (i % 10 != 0)
                            .then(|| format!("{:016x}", x.rotate_left(9)))
                            .into(),
                    ),
                };
                let at = base + (t as i64) * 1000;
                insert.execute(rusqlite::params![
                    trace,
                    span,
                    parent,
                    "orders",
                    "GET /api/orders/{id}",
                    2,
                    at,
                    at + 5000,
                    0,
                    "",
                    ATTRIBUTES,
                    "[]",
                    "[]",
                    1,
                    1,
                    Option::<String>::None,
                    false,
                    0,
                    400
                ])?;
            }
        }
        tx.commit()?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / (n.div_ceil(1000) * 1000) as f64)
}

fn main() -> rusqlite::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args
        .iter()
        .position(|a| a == "--spans")
        .and_then(|i| args.get(i + 1))
        .map_or(300_000, |v| v.parse().expect("--spans N"));
    println!("| {n} span rows into :memory: | µs per span | spans/s |\n|---|---:|---:|");
    for (what, layout) in [
        ("hex text ids, the table and its two indexes", Layout::Hex),
        (
            "integer ids in order of arrival, the table and its two indexes",
            Layout::Integer,
        ),
        (
            "integer ids, random trace numbers, the table and its two indexes",
            Layout::IntegerRandom,
        ),
        (
            "trace numbers in order of arrival, hex span ids, the table and its two indexes",
            Layout::NumberedTraces,
        ),
        ("hex text ids, the table alone", Layout::HexAlone),
    ] {
        let mut runs: Vec<f64> = (0..3).map(|_| run(n, layout)).collect::<Result<_, _>>()?;
        runs.sort_by(f64::total_cmp);
        let median = runs[1];
        println!(
            "| {what} (median of 3) | {median:.2} | {:.0} |",
            1e6 / median
        );
    }
    Ok(())
}
