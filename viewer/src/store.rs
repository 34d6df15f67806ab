//! The span database: SQLite, in memory or in a file, bounded by a retention setting.
//!
//! One table row per span (attributes, events and links as JSON), resources stored once, a
//! `traces` table of per-trace summaries kept up to date on every insert (what the trace list
//! reads, newest first through an index), and span links in their own table for the service map.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{
    EventRow, KIND_CLIENT, KIND_CONSUMER, KIND_PRODUCER, KIND_SERVER, LinkRow, STATUS_ERROR,
    SpanRow,
};

pub use rusqlite::Error as StoreError;

/// How much the store keeps: the oldest traces go first when either bound is passed.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// At most this many spans (default 2,000,000: about 1.5 GB in memory for typical spans).
    pub max_spans: u64,
    /// Traces that ended longer ago than this are dropped (default: kept whatever their age).
    pub max_age_ns: Option<i64>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_spans: 2_000_000,
            max_age_ns: None,
        }
    }
}

/// The trace list's filters; every one is optional.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Query {
    /// A span of this service is in the trace.
    pub service: Option<String>,
    /// A span with this name (of `service`, when given) is in the trace.
    pub operation: Option<String>,
    /// The trace lasts at least / at most this long.
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Only traces with a failed span.
    pub error: Option<bool>,
    /// `key=value` pairs separated by spaces: a span of the trace has each attribute.
    pub attr: Option<String>,
    /// This trace only (32 hex digits; a shorter prefix matches the start).
    pub trace_id: Option<String>,
    /// Traces that started in `[since_ns, until_ns)`.
    pub since_ns: Option<i64>,
    pub until_ns: Option<i64>,
    /// At most this many (default 100).
    pub limit: Option<u32>,
}

impl Query {
    /// The `key=value` pairs of `attr`.
    pub fn attribute_pairs(&self) -> Vec<(String, String)> {
        self.attr
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

/// One row of the trace list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceSummary {
    pub trace_id: String,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub root_service: String,
    pub root_name: String,
    pub span_count: i64,
    pub error_count: i64,
    /// Spans per service.
    pub services: Map<String, Value>,
}

/// A service and the span names seen from it.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceOperations {
    pub service: String,
    pub operations: Vec<String>,
}

/// The service map of a time window: services, and the calls between them with RED metrics.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ServiceMap {
    pub from_ns: i64,
    pub to_ns: i64,
    pub nodes: Vec<MapNode>,
    pub edges: Vec<MapEdge>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MapNode {
    pub service: String,
    pub spans: i64,
    pub errors: i64,
    /// A peer seen only from its callers (a database, an uninstrumented service).
    pub inferred: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct MapEdge {
    pub from: String,
    pub to: String,
    /// `rpc` (client → server), `messaging` (producer → consumer), `link`, `database`,
    /// `call` (a parent → child pair of other kinds).
    pub kind: String,
    pub calls: u64,
    pub errors: u64,
    pub rate_per_s: f64,
    pub error_rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

struct Inner {
    conn: Connection,
    resources: HashMap<String, i64>,
    operations: HashSet<(String, String)>,
    spans: u64,
}

/// The span database; share it behind an `Arc`.
pub struct Store {
    inner: Mutex<Inner>,
    retention: Retention,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

/// Stored in the file's `user_version`: a file of another layout is refused, not misread.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS resources(id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS spans(
  trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT, service TEXT NOT NULL,
  name TEXT NOT NULL, kind INTEGER NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
  status INTEGER NOT NULL, status_message TEXT NOT NULL, attributes TEXT NOT NULL,
  events TEXT NOT NULL, links TEXT NOT NULL, resource_id INTEGER NOT NULL, scope TEXT NOT NULL,
  peer TEXT, peer_is_db INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (trace_id, span_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS spans_start ON spans(start_ns);
CREATE TABLE IF NOT EXISTS links(trace_id TEXT NOT NULL, span_id TEXT NOT NULL,
  linked_trace TEXT NOT NULL, linked_span TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS links_span ON links(trace_id, span_id);
CREATE TABLE IF NOT EXISTS traces(trace_id TEXT PRIMARY KEY, start_ns INTEGER NOT NULL,
  end_ns INTEGER NOT NULL, span_count INTEGER NOT NULL, error_count INTEGER NOT NULL,
  root_service TEXT NOT NULL, root_name TEXT NOT NULL, services TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS traces_start ON traces(start_ns);
CREATE TABLE IF NOT EXISTS operations(service TEXT NOT NULL, name TEXT NOT NULL,
  PRIMARY KEY (service, name)) WITHOUT ROWID;
";

const SPAN_COLUMNS: &str = "s.trace_id, s.span_id, s.parent_id, s.service, s.name, s.kind, \
    s.start_ns, s.end_ns, s.status, s.status_message, s.attributes, s.events, s.links, r.json, s.scope";

impl Store {
    /// An empty store in memory.
    pub fn memory(retention: Retention) -> Result<Self, StoreError> {
        Self::with(Connection::open_in_memory()?, retention)
    }

    /// A store in `path`, created if missing; what it held is kept.
    pub fn file(path: &Path, retention: Retention) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Self::with(conn, retention)
    }

    fn with(conn: Connection, retention: Retention) -> Result<Self, StoreError> {
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if tables > 0 && version != SCHEMA_VERSION {
            return Err(StoreError::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
                Some(format!(
                    "this file holds no spans of traceweave-view schema {SCHEMA_VERSION} \
                 (user_version {version}): give another --db file"
                )),
            ));
        }
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        let spans: i64 = conn.query_row("SELECT count(*) FROM spans", [], |r| r.get(0))?;
        let mut operations = HashSet::new();
        {
            let mut stmt = conn.prepare("SELECT service, name FROM operations")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            for row in rows {
                operations.insert(row?);
            }
        }
        Ok(Store {
            inner: Mutex::new(Inner {
                conn,
                resources: HashMap::new(),
                operations,
                spans: u64::try_from(spans).unwrap_or(0),
            }),
            retention,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many spans are stored.
    pub fn span_count(&self) -> u64 {
        self.lock().spans
    }

    /// Stores spans (a span seen twice replaces its first copy) and updates their traces.
    pub fn insert(&self, spans: &[SpanRow]) -> Result<(), StoreError> {
        if spans.is_empty() {
            return Ok(());
        }
        let mut guard = self.lock();
        let inner = &mut *guard;
        let tx = inner.conn.transaction()?;
        let mut added = 0u64;
        let mut touched: Vec<&str> = Vec::new();
        {
            let mut insert_span = tx.prepare_cached(
                "INSERT OR REPLACE INTO spans VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
            )?;
            let mut insert_link = tx.prepare_cached("INSERT INTO links VALUES (?1, ?2, ?3, ?4)")?;
            let mut exists =
                tx.prepare_cached("SELECT 1 FROM spans WHERE trace_id = ?1 AND span_id = ?2")?;
            let mut drop_links =
                tx.prepare_cached("DELETE FROM links WHERE trace_id = ?1 AND span_id = ?2")?;
            let mut seen: HashSet<&str> = HashSet::new();
            let mut last_resource: Option<(&Map<String, Value>, i64)> = None;
            for s in spans {
                // Spans of one request mostly share a resource: compare before serialising.
                let resource_id = match last_resource {
                    Some((map, id)) if *map == s.resource => id,
                    _ => {
                        let id = resource_id(&tx, &mut inner.resources, &s.resource)?;
                        last_resource = Some((&s.resource, id));
                        id
                    }
                };
                let peer = peer_of(s);
                // A span sent twice (a retried export) replaces its first copy.
                if exists.exists(params![s.trace_id, s.span_id])? {
                    drop_links.execute(params![s.trace_id, s.span_id])?;
                } else {
                    added += 1;
                }
                insert_span.execute(params![
                    s.trace_id,
                    s.span_id,
                    s.parent_id,
                    s.service,
                    s.name,
                    s.kind,
                    s.start_ns,
                    s.end_ns,
                    s.status,
                    s.status_message,
                    serde_json::to_string(&s.attributes).unwrap_or_default(),
                    serde_json::to_string(&s.events).unwrap_or_default(),
                    serde_json::to_string(&s.links).unwrap_or_default(),
                    resource_id,
                    s.scope,
                    peer.map(|p| p.0),
                    peer.is_some_and(|p| p.1),
                ])?;
                for l in &s.links {
                    insert_link.execute(params![s.trace_id, s.span_id, l.trace_id, l.span_id])?;
                }
                let op = (s.service.clone(), s.name.clone());
                if !inner.operations.contains(&op) {
                    tx.execute(
                        "INSERT OR IGNORE INTO operations VALUES (?1, ?2)",
                        params![op.0, op.1],
                    )?;
                    inner.operations.insert(op);
                }
                if seen.insert(&s.trace_id) {
                    touched.push(&s.trace_id);
                }
            }
            let mut summarize = tx.prepare_cached(
                "INSERT OR REPLACE INTO traces
                 SELECT ?1, min(start_ns), max(end_ns), count(*), sum(status = 2),
                   (SELECT service FROM spans WHERE trace_id = ?1
                     ORDER BY parent_id IS NOT NULL, start_ns LIMIT 1),
                   (SELECT name FROM spans WHERE trace_id = ?1
                     ORDER BY parent_id IS NOT NULL, start_ns LIMIT 1),
                   (SELECT json_group_object(service, n) FROM
                     (SELECT service, count(*) AS n FROM spans WHERE trace_id = ?1 GROUP BY service))
                 FROM spans WHERE trace_id = ?1",
            )?;
            for t in touched {
                summarize.execute([t])?;
            }
        }
        tx.commit()?;
        inner.spans += added;
        self.enforce_retention(inner)
    }

    fn enforce_retention(&self, inner: &mut Inner) -> Result<(), StoreError> {
        let mut doomed: Vec<(String, i64)> = Vec::new();
        if let Some(age) = self.retention.max_age_ns {
            let now = now_ns();
            let mut stmt = inner.conn.prepare_cached(
                "SELECT trace_id, span_count FROM traces WHERE start_ns < ?1 AND end_ns < ?1",
            )?;
            let rows = stmt.query_map([now.saturating_sub(age)], |r| Ok((r.get(0)?, r.get(1)?)))?;
            for row in rows {
                doomed.push(row?);
            }
        }
        let after_age = inner
            .spans
            .saturating_sub(doomed.iter().map(|d| d.1 as u64).sum());
        if after_age > self.retention.max_spans {
            // Drop down to 95 % of the bound so the deletes are batched, not one per insert.
            let mut excess = after_age - self.retention.max_spans * 95 / 100;
            let mut stmt = inner.conn.prepare_cached(
                "SELECT trace_id, span_count FROM traces ORDER BY start_ns LIMIT ?1 OFFSET ?2",
            )?;
            let mut offset = 0i64;
            'outer: while excess > 0 {
                let rows: Vec<(String, i64)> = stmt
                    .query_map(params![1000, offset], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                if rows.is_empty() {
                    break;
                }
                offset += rows.len() as i64;
                for row in rows {
                    if doomed.iter().any(|d| d.0 == row.0) {
                        continue;
                    }
                    excess = excess.saturating_sub(row.1 as u64);
                    doomed.push(row);
                    if excess == 0 {
                        break 'outer;
                    }
                }
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        let tx = inner.conn.transaction()?;
        let mut removed = 0u64;
        {
            let mut spans = tx.prepare_cached("DELETE FROM spans WHERE trace_id = ?1")?;
            let mut links = tx.prepare_cached("DELETE FROM links WHERE trace_id = ?1")?;
            let mut traces = tx.prepare_cached("DELETE FROM traces WHERE trace_id = ?1")?;
            for (id, _) in &doomed {
                removed += spans.execute([id])? as u64;
                links.execute([id])?;
                traces.execute([id])?;
            }
        }
        tx.commit()?;
        inner.spans = inner.spans.saturating_sub(removed);
        Ok(())
    }

    /// Traces matching `q`, newest first.
    pub fn search(&self, q: &Query) -> Result<Vec<TraceSummary>, StoreError> {
        let mut sql = String::from(
            "SELECT trace_id, start_ns, end_ns - start_ns, root_service, root_name, span_count, \
             error_count, services FROM traces t WHERE 1",
        );
        use rusqlite::types::Value as V;
        let mut args: Vec<V> = Vec::new();
        let mut bind = |v: V| {
            args.push(v);
            args.len()
        };
        if let Some(id) = q
            .trace_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let id = id.to_ascii_lowercase();
            if id.len() == 32 {
                let i = bind(V::Text(id));
                sql += &format!(" AND t.trace_id = ?{i}");
            } else {
                // Ids are lowercase hex: every id starting with `id` sorts in [id, id + "g").
                let lo = bind(V::Text(id.clone()));
                let hi = bind(V::Text(format!("{id}g")));
                sql += &format!(" AND t.trace_id >= ?{lo} AND t.trace_id < ?{hi}");
            }
        }
        let service = q.service.as_deref().filter(|s| !s.is_empty());
        let operation = q.operation.as_deref().filter(|s| !s.is_empty());
        match (service, operation) {
            (Some(s), Some(o)) => {
                let (s, o) = (bind(V::Text(s.to_owned())), bind(V::Text(o.to_owned())));
                sql += &format!(
                    " AND EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id \
                     AND s.service = ?{s} AND s.name = ?{o})"
                );
            }
            (Some(s), None) => {
                // `services` is a JSON object keyed by service name.
                let key = serde_json::to_string(s).unwrap_or_default();
                let i = bind(V::Text(format!("%{}:%", like_escape(&key))));
                sql += &format!(" AND t.services LIKE ?{i} ESCAPE '\\'");
            }
            (None, Some(o)) => {
                let i = bind(V::Text(o.to_owned()));
                sql += &format!(
                    " AND EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id AND s.name = ?{i})"
                );
            }
            (None, None) => {}
        }
        if let Some(ms) = q.min_ms {
            let i = bind(V::Integer((ms * 1e6) as i64));
            sql += &format!(" AND t.end_ns - t.start_ns >= ?{i}");
        }
        if let Some(ms) = q.max_ms {
            let i = bind(V::Integer((ms * 1e6) as i64));
            sql += &format!(" AND t.end_ns - t.start_ns <= ?{i}");
        }
        if q.error == Some(true) {
            sql += " AND t.error_count > 0";
        }
        if let Some(since) = q.since_ns {
            let i = bind(V::Integer(since));
            sql += &format!(" AND t.start_ns >= ?{i}");
        }
        if let Some(until) = q.until_ns {
            let i = bind(V::Integer(until));
            sql += &format!(" AND t.start_ns < ?{i}");
        }
        for (key, value) in q.attribute_pairs() {
            // Strings and numbers compare as text; `key=true` / `key=false` match booleans.
            let p = bind(V::Text(format!("$.\"{}\"", key.replace('"', ""))));
            let v = bind(V::Text(value));
            sql += &format!(
                " AND EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id AND \
                 (CAST(json_extract(s.attributes, ?{p}) AS TEXT) = ?{v} \
                  OR (json_type(s.attributes, ?{p}) = ?{v} AND ?{v} IN ('true', 'false'))))"
            );
        }
        let i = bind(V::Integer(i64::from(q.limit.unwrap_or(100))));
        sql += &format!(" ORDER BY t.start_ns DESC LIMIT ?{i}");
        let inner = self.lock();
        let mut stmt = inner.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            let services: String = r.get(7)?;
            Ok(TraceSummary {
                trace_id: r.get(0)?,
                start_ns: r.get(1)?,
                duration_ns: r.get(2)?,
                root_service: r.get(3)?,
                root_name: r.get(4)?,
                span_count: r.get(5)?,
                error_count: r.get(6)?,
                services: serde_json::from_str(&services).unwrap_or_default(),
            })
        })?;
        rows.collect()
    }

    /// Every trace stored, newest first.
    pub fn all_traces(&self) -> Result<Vec<TraceSummary>, StoreError> {
        self.search(&Query {
            limit: Some(u32::MAX),
            ..Query::default()
        })
    }

    /// Every span of a trace, earliest first (empty when the trace is unknown).
    pub fn trace(&self, trace_id: &str) -> Result<Vec<SpanRow>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(&format!(
            "SELECT {SPAN_COLUMNS} FROM spans s JOIN resources r ON r.id = s.resource_id \
             WHERE s.trace_id = ?1 ORDER BY s.start_ns"
        ))?;
        let rows = stmt.query_map([trace_id.to_ascii_lowercase()], span_row)?;
        rows.collect()
    }

    /// Every service with the span names seen from it.
    pub fn services(&self) -> Result<Vec<ServiceOperations>, StoreError> {
        let inner = self.lock();
        let mut out: Vec<ServiceOperations> = Vec::new();
        let mut ops: Vec<&(String, String)> = inner.operations.iter().collect();
        ops.sort();
        for (service, name) in ops {
            match out.last_mut() {
                Some(last) if &last.service == service => last.operations.push(name.clone()),
                _ => out.push(ServiceOperations {
                    service: service.clone(),
                    operations: vec![name.clone()],
                }),
            }
        }
        Ok(out)
    }

    /// The first and last span times stored, if any.
    pub fn time_range(&self) -> Result<Option<(i64, i64)>, StoreError> {
        let inner = self.lock();
        inner
            .conn
            .query_row(
                "SELECT min(start_ns), max(end_ns) FROM traces HAVING count(*) > 0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
    }

    /// The service map of the spans that started in `[from_ns, to_ns)`.
    pub fn service_map(&self, from_ns: i64, to_ns: i64) -> Result<ServiceMap, StoreError> {
        let inner = self.lock();
        let conn = &inner.conn;
        // A window over most of what is stored reads the table straight through: cheaper than
        // a lookup per span through the start-time index.
        let range: Option<(i64, i64)> = conn
            .query_row(
                "SELECT min(start_ns), max(end_ns) FROM traces HAVING count(*) > 0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let scan = range.is_some_and(|(lo, hi)| {
            let covered = to_ns.min(hi).saturating_sub(from_ns.max(lo));
            covered.saturating_mul(4) > hi.saturating_sub(lo)
        });
        // `+` keeps SQLite off the index for that term.
        let window = if scan {
            "+c.start_ns >= ?1 AND +c.start_ns < ?2"
        } else {
            "c.start_ns >= ?1 AND c.start_ns < ?2"
        };
        let mut nodes: Vec<MapNode> = Vec::new();
        {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT c.service, count(*), sum(c.status = 2) FROM spans c \
                 WHERE {window} GROUP BY c.service ORDER BY c.service"
            ))?;
            let rows = stmt.query_map([from_ns, to_ns], |r| {
                Ok(MapNode {
                    service: r.get(0)?,
                    spans: r.get(1)?,
                    errors: r.get(2)?,
                    inferred: false,
                })
            })?;
            for row in rows {
                nodes.push(row?);
            }
        }
        // (from, to, kind) -> (durations, errors)
        let mut edges: HashMap<(String, String, &'static str), (Vec<i64>, u64)> = HashMap::new();
        let mut add = |from: String, to: String, kind: &'static str, dur: i64, failed: bool| {
            let e = edges.entry((from, to, kind)).or_default();
            e.0.push(dur);
            e.1 += u64::from(failed);
        };
        // Parent -> child pairs that cross services, and span links across services.
        let mut called: HashSet<(String, String)> = HashSet::new();
        {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT p.service, c.service, p.kind, c.kind, c.end_ns - c.start_ns, p.status,
                        c.status, 0, c.trace_id, p.span_id
                   FROM spans c JOIN spans p ON p.trace_id = c.trace_id AND p.span_id = c.parent_id
                   WHERE {window} AND p.service <> c.service
                 UNION ALL
                 SELECT p.service, c.service, p.kind, c.kind, c.end_ns - c.start_ns, p.status,
                        c.status, 1, '', ''
                   FROM links l
                   CROSS JOIN spans c ON c.trace_id = l.trace_id AND c.span_id = l.span_id
                   CROSS JOIN spans p ON p.trace_id = l.linked_trace AND p.span_id = l.linked_span
                   WHERE {window} AND p.service <> c.service"
            ))?;
            let mut rows = stmt.query([from_ns, to_ns])?;
            while let Some(r) = rows.next()? {
                let (pk, ck): (u8, u8) = (r.get(2)?, r.get(3)?);
                let (ps, cs): (u8, u8) = (r.get(5)?, r.get(6)?);
                let link: i64 = r.get(7)?;
                let kind = if link == 1 {
                    "link"
                } else if pk == KIND_CLIENT && ck == KIND_SERVER {
                    "rpc"
                } else if pk == KIND_PRODUCER && ck == KIND_CONSUMER {
                    "messaging"
                } else {
                    "call"
                };
                if link == 0 {
                    called.insert((r.get(8)?, r.get(9)?));
                }
                let failed = cs == STATUS_ERROR || (pk == KIND_CLIENT && ps == STATUS_ERROR);
                add(r.get(0)?, r.get(1)?, kind, r.get(4)?, failed);
            }
        }
        // Client spans to peers that send no spans of their own: databases, `peer.service`.
        {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT c.trace_id, c.span_id, c.service, c.peer, c.peer_is_db,
                        c.end_ns - c.start_ns, c.status
                 FROM spans c WHERE {window} AND c.peer IS NOT NULL"
            ))?;
            let mut rows = stmt.query([from_ns, to_ns])?;
            while let Some(r) = rows.next()? {
                let Some(peer) = r.get::<_, Option<String>>(3)? else {
                    continue;
                };
                if called.contains(&(r.get(0)?, r.get(1)?)) {
                    continue; // the peer sent its own span: a real edge above
                }
                let db: bool = r.get(4)?;
                let status: u8 = r.get(6)?;
                let from: String = r.get(2)?;
                if !nodes.iter().any(|n| n.service == peer) {
                    nodes.push(MapNode {
                        service: peer.clone(),
                        spans: 0,
                        errors: 0,
                        inferred: true,
                    });
                }
                let kind = if db { "database" } else { "rpc" };
                add(from, peer, kind, r.get(5)?, status == STATUS_ERROR);
            }
        }
        let seconds = ((to_ns - from_ns).max(1) as f64) / 1e9;
        let mut edges: Vec<MapEdge> = edges
            .into_iter()
            .map(|((from, to, kind), (mut durations, errors))| {
                durations.sort_unstable();
                let calls = durations.len() as u64;
                MapEdge {
                    from,
                    to,
                    kind: kind.to_owned(),
                    calls,
                    errors,
                    rate_per_s: calls as f64 / seconds,
                    error_rate: errors as f64 / calls.max(1) as f64,
                    p50_ms: percentile(&durations, 50.0) as f64 / 1e6,
                    p99_ms: percentile(&durations, 99.0) as f64 / 1e6,
                }
            })
            .collect();
        edges.sort_by(|a, b| (&a.from, &a.to, &a.kind).cmp(&(&b.from, &b.to, &b.kind)));
        Ok(ServiceMap {
            from_ns,
            to_ns,
            nodes,
            edges,
        })
    }
}

/// What a client span calls when that peer may send no spans of its own: `peer.service`, or a
/// database system (then `true`).
fn peer_of(s: &SpanRow) -> Option<(&str, bool)> {
    if s.kind != KIND_CLIENT {
        return None;
    }
    let text = |k: &str| s.attributes.get(k).and_then(Value::as_str);
    text("peer.service").map(|p| (p, false)).or_else(|| {
        text("db.system.name")
            .or_else(|| text("db.system"))
            .map(|d| (d, true))
    })
}

/// The id of a resource in the `resources` table, added if new.
fn resource_id(
    tx: &rusqlite::Transaction<'_>,
    known: &mut HashMap<String, i64>,
    resource: &Map<String, Value>,
) -> Result<i64, StoreError> {
    let json = serde_json::to_string(resource).unwrap_or_default();
    if let Some(&id) = known.get(&json) {
        return Ok(id);
    }
    tx.execute("INSERT OR IGNORE INTO resources(json) VALUES (?1)", [&json])?;
    let id: i64 = tx.query_row("SELECT id FROM resources WHERE json = ?1", [&json], |r| {
        r.get(0)
    })?;
    known.insert(json, id);
    Ok(id)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn span_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SpanRow> {
    let json_map = |i: usize| -> rusqlite::Result<Map<String, Value>> {
        let s: String = r.get(i)?;
        Ok(serde_json::from_str(&s).unwrap_or_default())
    };
    let events: String = r.get(11)?;
    let links: String = r.get(12)?;
    Ok(SpanRow {
        trace_id: r.get(0)?,
        span_id: r.get(1)?,
        parent_id: r.get(2)?,
        service: r.get(3)?,
        name: r.get(4)?,
        kind: r.get(5)?,
        start_ns: r.get(6)?,
        end_ns: r.get(7)?,
        status: r.get(8)?,
        status_message: r.get(9)?,
        attributes: json_map(10)?,
        events: serde_json::from_str::<Vec<EventRow>>(&events).unwrap_or_default(),
        links: serde_json::from_str::<Vec<LinkRow>>(&links).unwrap_or_default(),
        resource: json_map(13)?,
        scope: r.get(14)?,
    })
}

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
