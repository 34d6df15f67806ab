//! What the span rows alone cost SQLite: the floor under the viewer's ingest rate. Inserts
//! realistic span rows (traces of 10 spans, random trace ids, 5 attributes as JSON) into an
//! in-memory database with the `spans` table of the store, in transactions of 1000 as ingest
//! does, with and without the two indexes its queries need (a span by id, the children of a
//! span). Nothing else: no decoding, no trace summaries, no service map, no HTTP.
//!
//! ```text
//! cargo run --release -p traceweave-view --example sqlite_floor -- [--spans N]
//! ```

use std::time::Instant;

const TABLE: &str = "CREATE TABLE spans(
  trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT, service TEXT NOT NULL,
  name TEXT NOT NULL, kind INTEGER NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
  status INTEGER NOT NULL, status_message TEXT NOT NULL, attributes TEXT NOT NULL,
  events TEXT NOT NULL, links TEXT NOT NULL, resource_id INTEGER NOT NULL,
  scope_id INTEGER NOT NULL, peer TEXT, peer_is_db INTEGER NOT NULL DEFAULT 0,
  truncated INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL)";

const INDEXES: &str = "CREATE UNIQUE INDEX spans_id ON spans(trace_id, span_id);
CREATE INDEX spans_parent ON spans(trace_id, parent_id);";

const ATTRIBUTES: &str = r#"{"http.request.method":"GET","http.response.status_code":200,"http.route":"/api/orders/{id}","server.address":"orders.internal","user.id":"user-12345"}"#;

/// Microseconds per span for `n` spans.
fn run(n: u64, indexes: bool) -> rusqlite::Result<f64> {
    let mut conn = rusqlite::Connection::open_in_memory()?;
    conn.execute_batch(TABLE)?;
    if indexes {
        conn.execute_batch(INDEXES)?;
    }
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut trace = String::new();
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
                }
                let span = format!("{:016x}", x.rotate_left(7));
                let parent = (i % 10 != 0).then(|| format!("{:016x}", x.rotate_left(9)));
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
    for (what, indexes) in [
        ("the table and its two indexes", true),
        ("the table alone", false),
    ] {
        let mut runs: Vec<f64> = (0..3).map(|_| run(n, indexes)).collect::<Result<_, _>>()?;
        runs.sort_by(f64::total_cmp);
        let median = runs[1];
        println!(
            "| {what} (median of 3) | {median:.2} | {:.0} |",
            1e6 / median
        );
    }
    Ok(())
}
