//! The tables. `traces` holds each trace's summary (what the list reads, newest first through
//! an index) under a number given in order of arrival; `spans`, `links` and `trace_services`
//! are keyed by that number, not by the random 128-bit id, so a chunk's rows land at the right
//! edge of their indexes instead of on a thousand random pages (the span rows cost SQLite 2.1
//! µs instead of 4.0, `examples/sqlite_floor.rs`). `spans` is a rowid table (rows of a few KiB
//! stay in their page; a `WITHOUT ROWID` table spills each row over ~1 KiB into an overflow
//! page of its own: 4.7 KB on disk for a 1.3 KB row, measured). Resources and scopes are stored
//! once, keyed by their content, and referenced by spans; `trace_services` holds a trace's spans
//! per service (exact service filters); `links` feeds the service map; `map_nodes` and
//! `map_edges` hold the map itself, per minute, kept at ingest.

use rusqlite::Connection;

use super::StoreError;

/// Stored in the file's `user_version`: a file of another layout is refused, not misread.
pub(super) const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS resources(id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE,
  spans INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS scopes(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  spans INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS spans(
  trace_no INTEGER NOT NULL, span_id TEXT NOT NULL, parent_id TEXT, service TEXT NOT NULL,
  name TEXT NOT NULL, kind INTEGER NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
  status INTEGER NOT NULL, status_message TEXT NOT NULL, attributes TEXT NOT NULL,
  events TEXT NOT NULL, links TEXT NOT NULL, resource_id INTEGER NOT NULL,
  scope_id INTEGER NOT NULL, peer TEXT, peer_is_db INTEGER NOT NULL DEFAULT 0,
  truncated INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS spans_id ON spans(trace_no, span_id);
CREATE INDEX IF NOT EXISTS spans_parent ON spans(trace_no, parent_id);
CREATE TABLE IF NOT EXISTS links(trace_no INTEGER NOT NULL, span_id TEXT NOT NULL,
  linked_trace TEXT NOT NULL, linked_span TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS links_span ON links(trace_no, span_id);
CREATE INDEX IF NOT EXISTS links_target ON links(linked_trace, linked_span);
CREATE TABLE IF NOT EXISTS map_nodes(bucket INTEGER NOT NULL, service TEXT NOT NULL,
  spans INTEGER NOT NULL, errors INTEGER NOT NULL, PRIMARY KEY (bucket, service)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map_edges(bucket INTEGER NOT NULL, from_service TEXT NOT NULL,
  to_service TEXT NOT NULL, kind TEXT NOT NULL, calls INTEGER NOT NULL, errors INTEGER NOT NULL,
  hist BLOB NOT NULL, PRIMARY KEY (bucket, from_service, to_service, kind)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS traces(no INTEGER PRIMARY KEY, trace_id TEXT NOT NULL UNIQUE,
  start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, span_count INTEGER NOT NULL,
  error_count INTEGER NOT NULL, root_service TEXT NOT NULL, root_name TEXT NOT NULL,
  root_has_parent INTEGER NOT NULL, root_start INTEGER NOT NULL, bytes INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS traces_start ON traces(start_ns);
CREATE TABLE IF NOT EXISTS trace_services(trace_no INTEGER NOT NULL, service TEXT NOT NULL,
  spans INTEGER NOT NULL, PRIMARY KEY (trace_no, service)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trace_services_by_service ON trace_services(service, trace_no);
CREATE TABLE IF NOT EXISTS operations(service TEXT NOT NULL, name TEXT NOT NULL,
  PRIMARY KEY (service, name)) WITHOUT ROWID;
";

/// Creates the tables, or checks that a file holds this layout.
pub(super) fn prepare(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if tables > 0 && version != SCHEMA_VERSION {
        return Err(StoreError::OtherLayout(format!(
            "this file holds no spans of traceweave-view schema {SCHEMA_VERSION} \
             (user_version {version}): give another --db file"
        )));
    }
    conn.execute_batch(SCHEMA)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}
