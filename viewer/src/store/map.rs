//! The service map of a time window: services, and the calls between them with RED metrics —
//! client → server and producer → consumer pairs across services, span links, and peers seen
//! only from their callers (databases, `peer.service`).
//!
//! Kept incrementally: each span, as it is stored, adds what it completes — itself to its
//! service's node, the edge from its parent if that is stored, the edges to its children that
//! came first, its links both ways, its peer while no span of another service answers it —
//! to per-minute buckets (`map_nodes`, `map_edges`, durations in quarter-octave histograms).
//! A span removed (retention, or replaced by a re-sent copy) takes exactly that back. A map
//! query sums the window's buckets: its cost depends on the services and minutes in the window,
//! not on the spans. [`Store::service_map_scan`] computes the same from the spans (the tests
//! compare the two).

use std::collections::{HashMap, HashSet};

use rusqlite::OptionalExtension;
use serde::Serialize;

use super::{Store, StoreError};
use crate::model::{KIND_CLIENT, KIND_CONSUMER, KIND_PRODUCER, KIND_SERVER, STATUS_ERROR};

/// The service map of a time window: services, and the calls between them with RED metrics.
///
/// ```
/// # let request = serde_json::json!([
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
/// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
/// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
/// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
/// #      "localEndpoint": {"serviceName": "gateway"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
/// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
/// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
/// # ]);
/// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
/// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
/// # store.insert(&spans).unwrap();
/// let map = store.service_map(i64::MIN / 2, i64::MAX / 2).unwrap();
/// let edge = &map.edges[0];
/// assert_eq!((edge.from.as_str(), edge.to.as_str(), edge.kind.as_str()), ("gateway", "inventory", "rpc"));
/// ```
#[derive(Clone, Debug, Default, Serialize)]
pub struct ServiceMap {
    /// The window's start.
    pub from_ns: i64,
    /// The window's end.
    pub to_ns: i64,
    /// The services.
    pub nodes: Vec<MapNode>,
    /// The calls between them, sorted by caller, callee and kind.
    pub edges: Vec<MapEdge>,
}

/// A service of the map.
///
/// ```
/// # let request = serde_json::json!([
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
/// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
/// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
/// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
/// #      "localEndpoint": {"serviceName": "gateway"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
/// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
/// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
/// # ]);
/// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
/// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
/// # store.insert(&spans).unwrap();
/// let map = store.service_map(i64::MIN / 2, i64::MAX / 2).unwrap();
/// let inventory = map.nodes.iter().find(|n| n.service == "inventory").unwrap();
/// assert_eq!((inventory.spans, inventory.errors, inventory.inferred), (1, 1, false));
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct MapNode {
    /// Its `service.name`.
    pub service: String,
    /// Its spans in the window.
    pub spans: i64,
    /// Those that failed.
    pub errors: i64,
    /// A peer seen only from its callers (a database, an uninstrumented service).
    pub inferred: bool,
}

/// Calls from one service to another, with their rate, errors and latency (RED metrics).
///
/// ```
/// # let request = serde_json::json!([
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
/// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
/// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
/// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
/// #      "localEndpoint": {"serviceName": "gateway"}},
/// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
/// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
/// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
/// # ]);
/// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
/// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
/// # store.insert(&spans).unwrap();
/// let map = store.service_map(i64::MIN / 2, i64::MAX / 2).unwrap();
/// let edge = &map.edges[0];
/// assert_eq!((edge.calls, edge.errors), (1, 1));
/// assert_eq!(edge.error_rate, 1.0);
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct MapEdge {
    /// The calling service.
    pub from: String,
    /// The called service (or peer).
    pub to: String,
    /// `rpc` (client → server), `messaging` (producer → consumer), `link`, `database`,
    /// `call` (a parent → child pair of other kinds).
    pub kind: String,
    /// Calls in the window.
    pub calls: u64,
    /// Failed calls.
    pub errors: u64,
    /// Calls per second over the window.
    pub rate_per_s: f64,
    /// `errors / calls`.
    pub error_rate: f64,
    /// The median call's duration (within a quarter octave).
    pub p50_ms: f64,
    /// The 99th percentile call's duration (within a quarter octave).
    pub p99_ms: f64,
}

impl ServiceMap {
    /// The map of `[from_ns, to_ns)`, its edges in (from, to, kind) order.
    fn sorted(from_ns: i64, to_ns: i64, nodes: Vec<MapNode>, mut edges: Vec<MapEdge>) -> Self {
        edges.sort_by(|a, b| (&a.from, &a.to, &a.kind).cmp(&(&b.from, &b.to, &b.kind)));
        ServiceMap {
            from_ns,
            to_ns,
            nodes,
            edges,
        }
    }
}

impl Store {
    /// The service map computed from the spans that started in `[from_ns, to_ns)` (a scan:
    /// about 1.4 µs per span). The reference [`service_map`](Self::service_map) is tested
    /// against.
    ///
    /// ```
    /// # let request = serde_json::json!([
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
    /// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
    /// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
    /// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
    /// #      "localEndpoint": {"serviceName": "gateway"}},
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
    /// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
    /// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
    /// # ]);
    /// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
    /// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
    /// # store.insert(&spans).unwrap();
    /// let (from, to) = (i64::MIN / 2, i64::MAX / 2);
    /// let kept = store.service_map(from, to).unwrap();
    /// let scanned = store.service_map_scan(from, to).unwrap();
    /// assert_eq!(kept.edges.len(), scanned.edges.len());
    /// ```
    #[doc(hidden)]
    pub fn service_map_scan(&self, from_ns: i64, to_ns: i64) -> Result<ServiceMap, StoreError> {
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
        let mut called: HashSet<(i64, String)> = HashSet::new();
        {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT p.service, c.service, p.kind, c.kind, c.end_ns - c.start_ns, p.status,
                        c.status, 0, c.trace_no, p.span_id
                   FROM spans c JOIN spans p ON p.trace_no = c.trace_no AND p.span_id = c.parent_id
                   WHERE {window} AND p.service <> c.service
                 UNION ALL
                 SELECT p.service, c.service, p.kind, c.kind, c.end_ns - c.start_ns, p.status,
                        c.status, 1, 0, ''
                   FROM links l
                   CROSS JOIN spans c ON c.trace_no = l.trace_no AND c.span_id = l.span_id
                   CROSS JOIN traces lt ON lt.trace_id = l.linked_trace
                   CROSS JOIN spans p ON p.trace_no = lt.no AND p.span_id = l.linked_span
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
                "SELECT c.trace_no, c.span_id, c.service, c.peer, c.peer_is_db,
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
        let seconds = (to_ns.saturating_sub(from_ns).max(1) as f64) / 1e9;
        let edges: Vec<MapEdge> = edges
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
        Ok(ServiceMap::sorted(from_ns, to_ns, nodes, edges))
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ---- the incremental map -------------------------------------------------------------------

/// Buckets of one minute.
pub(super) const BUCKET_NS: i64 = 60_000_000_000;

/// Quarter-octave duration buckets: bucket `i` holds durations in [2^(i/4), 2^((i+1)/4)) ns.
const HIST: usize = 256;

fn hist_index(ns: i64) -> usize {
    if ns <= 1 {
        return 0;
    }
    ((ns as f64).log2() * 4.0)
        .floor()
        .clamp(0.0, (HIST - 1) as f64) as usize
}

/// The geometric middle of a bucket, in nanoseconds: within 9 % of every value in it.
fn hist_value(i: usize) -> f64 {
    2f64.powf((i as f64 + 0.5) / 4.0)
}

fn bucket_of(ns: i64) -> i64 {
    ns.div_euclid(BUCKET_NS)
}

/// A stored span, as the map sees it.
#[derive(Clone, Debug)]
pub(super) struct MapSpan {
    /// The trace's number (`traces.no`).
    pub trace: i64,
    pub span_id: String,
    pub parent_id: Option<String>,
    pub service: String,
    pub kind: u8,
    pub status: u8,
    pub start_ns: i64,
    pub end_ns: i64,
    pub peer: Option<(String, bool)>,
}

impl MapSpan {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MapSpan> {
        let peer: Option<String> = r.get(8)?;
        let db: bool = r.get(9)?;
        Ok(MapSpan {
            trace: r.get(0)?,
            span_id: r.get(1)?,
            parent_id: r.get(2)?,
            service: r.get(3)?,
            kind: r.get(4)?,
            status: r.get(5)?,
            start_ns: r.get(6)?,
            end_ns: r.get(7)?,
            peer: peer.map(|p| (p, db)),
        })
    }

    fn duration(&self) -> i64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    fn failed(&self) -> bool {
        self.status == STATUS_ERROR
    }
}

/// `SELECT` of the columns [`MapSpan::from_row`] reads (a macro: the statements are literals,
/// not formatted and hashed anew on each of a chunk's thousand lookups).
macro_rules! map_span {
    () => {
        "SELECT trace_no, span_id, parent_id, service, kind, status, start_ns, end_ns, peer, \
         peer_is_db"
    };
}

const SPAN_BY_ID: &str = concat!(
    map_span!(),
    " FROM spans WHERE trace_no = ?1 AND span_id = ?2"
);

/// A span as stored now.
pub(super) fn stored(
    tx: &rusqlite::Transaction<'_>,
    trace: i64,
    span_id: &str,
) -> Result<MapSpan, StoreError> {
    Ok(tx
        .prepare_cached(SPAN_BY_ID)?
        .query_row(rusqlite::params![trace, span_id], MapSpan::from_row)?)
}

/// Every span of a trace, as stored now.
pub(super) fn trace_spans(
    tx: &rusqlite::Transaction<'_>,
    trace: i64,
) -> Result<Vec<MapSpan>, StoreError> {
    Ok(tx
        .prepare_cached(concat!(map_span!(), " FROM spans WHERE trace_no = ?1"))?
        .query_map([trace], MapSpan::from_row)?
        .collect::<Result<_, _>>()?)
}

/// The spans stored so far in this chunk of the traces no earlier chunk had. Most traces
/// arrive whole in one request: their lookups (the previous copy of a span, its parent, its
/// children, a peer's other answers) are answered here instead of by index, which is what
/// the map's upkeep cost per span (five index lookups; a quarter of the ingest time).
#[derive(Default)]
pub(super) struct Fresh {
    traces: HashMap<i64, FreshTrace>,
    /// The numbers of the traces met in this chunk, stored before or not: a link to one of
    /// them finds it here (a trace new in this chunk has no `traces` row until its end).
    numbers: HashMap<String, i64>,
}

/// One fresh trace's spans, by id and by parent.
#[derive(Default)]
pub(super) struct FreshTrace {
    spans: HashMap<String, FreshSpan>,
    /// Span ids by parent id, as stored now (a replaced span moves).
    children: HashMap<String, Vec<String>>,
}

/// A span of a fresh trace, with what ingest stored beside it.
pub(super) struct FreshSpan {
    pub span: MapSpan,
    /// (bytes, resource id, scope id) of its row.
    pub row: (i64, i64, i64),
}

impl Fresh {
    /// The spans of `trace` stored in this chunk, if no earlier chunk stored any of it.
    pub(super) fn trace(&self, trace: i64) -> Option<&FreshTrace> {
        self.traces.get(&trace)
    }

    /// Records the number of a trace met in this chunk; `fresh`: no earlier chunk stored any
    /// of it.
    pub(super) fn number(&mut self, trace_id: &str, no: i64, fresh: bool) {
        self.numbers.insert(trace_id.to_owned(), no);
        if fresh {
            self.traces.entry(no).or_default();
        }
    }

    /// The number of a trace met in this chunk.
    pub(super) fn number_of(&self, trace_id: &str) -> Option<i64> {
        self.numbers.get(trace_id).copied()
    }

    /// The number of a stored trace or one met in this chunk.
    fn resolve(
        &self,
        tx: &rusqlite::Transaction<'_>,
        trace_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        if let Some(no) = self.number_of(trace_id) {
            return Ok(Some(no));
        }
        Ok(tx
            .prepare_cached("SELECT no FROM traces WHERE trace_id = ?1")?
            .query_row([trace_id], |r| r.get(0))
            .optional()?)
    }

    /// Records `span` (of a fresh trace) as stored, replacing its earlier copy.
    pub(super) fn put(&mut self, span: MapSpan, row: (i64, i64, i64)) {
        let Some(t) = self.traces.get_mut(&span.trace) else {
            return;
        };
        if let Some(old) = t.spans.get(&span.span_id)
            && let Some(parent) = &old.span.parent_id
            && let Some(ids) = t.children.get_mut(parent)
        {
            ids.retain(|id| *id != span.span_id);
        }
        if let Some(parent) = &span.parent_id {
            t.children
                .entry(parent.clone())
                .or_default()
                .push(span.span_id.clone());
        }
        t.spans
            .insert(span.span_id.clone(), FreshSpan { span, row });
    }
}

impl FreshTrace {
    /// The stored copy of `span`.
    pub(super) fn get(&self, span: &str) -> Option<&FreshSpan> {
        self.spans.get(span)
    }

    /// The spans stored with `parent` as their parent.
    fn children<'a>(&'a self, parent: &str) -> impl Iterator<Item = &'a MapSpan> + 'a {
        self.children
            .get(parent)
            .into_iter()
            .flatten()
            .filter_map(|id| self.spans.get(id).map(|f| &f.span))
    }
}

/// The kind of the edge from a parent (or linked span) to a child.
fn pair_kind(parent: u8, child: u8) -> &'static str {
    if parent == KIND_CLIENT && child == KIND_SERVER {
        "rpc"
    } else if parent == KIND_PRODUCER && child == KIND_CONSUMER {
        "messaging"
    } else {
        "call"
    }
}

/// A failed call: the callee failed, or a client that saw it fail.
fn pair_failed(parent: &MapSpan, child: &MapSpan) -> bool {
    child.failed() || (parent.kind == KIND_CLIENT && parent.failed())
}

#[derive(Default)]
struct EdgeDelta {
    calls: i64,
    errors: i64,
    hist: HashMap<usize, i64>,
}

/// What a chunk adds to (or takes from) the map, applied once at its end.
#[derive(Default)]
pub(super) struct MapDelta {
    nodes: HashMap<(i64, String), (i64, i64)>,
    edges: HashMap<(i64, String, String, &'static str), EdgeDelta>,
}

impl MapDelta {
    fn node(&mut self, s: &MapSpan, sign: i64) {
        let n = self
            .nodes
            .entry((bucket_of(s.start_ns), s.service.clone()))
            .or_default();
        n.0 += sign;
        n.1 += sign * i64::from(s.failed());
    }

    fn edge(
        &mut self,
        from: &str,
        to: &str,
        kind: &'static str,
        callee: &MapSpan,
        failed: bool,
        sign: i64,
    ) {
        let e = self
            .edges
            .entry((
                bucket_of(callee.start_ns),
                from.to_owned(),
                to.to_owned(),
                kind,
            ))
            .or_default();
        e.calls += sign;
        e.errors += sign * i64::from(failed);
        *e.hist.entry(hist_index(callee.duration())).or_default() += sign;
    }

    fn peer(&mut self, s: &MapSpan, sign: i64) {
        if let Some((peer, db)) = &s.peer {
            let kind = if *db { "database" } else { "rpc" };
            self.edge(&s.service, peer, kind, s, s.failed(), sign);
        }
    }

    /// Takes back (`sign` -1) what a stored `s` of the trace `trace_id` completes, before it
    /// and its links go (or adds it again: `sign` 1).
    pub(super) fn span(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        s: &MapSpan,
        trace_id: &str,
        sign: i64,
        fresh: &Fresh,
    ) -> Result<(), StoreError> {
        let out: Vec<(String, String)> = tx
            .prepare_cached(
                "SELECT linked_trace, linked_span FROM links WHERE trace_no = ?1 AND span_id = ?2",
            )?
            .query_map(rusqlite::params![s.trace, s.span_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        self.change(tx, s, trace_id, &out, true, sign, fresh)
    }

    /// Adds what `s` of the trace `trace_id` completes, once it and its `links` (to other
    /// spans: trace id, span id) are stored; `linked_to`: whether some stored link may point
    /// at it.
    pub(super) fn add(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        s: &MapSpan,
        trace_id: &str,
        links: &[(String, String)],
        linked_to: bool,
        fresh: &Fresh,
    ) -> Result<(), StoreError> {
        self.change(tx, s, trace_id, links, linked_to, 1, fresh)
    }

    /// Adds (`sign` 1) or takes back (`sign` -1) what `s` completes, against the spans stored
    /// now (`s` itself excluded). Spans of `fresh` traces are looked up in memory.
    #[allow(clippy::too_many_arguments)]
    fn change(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        s: &MapSpan,
        trace_id: &str,
        links: &[(String, String)],
        linked_to: bool,
        sign: i64,
        fresh: &Fresh,
    ) -> Result<(), StoreError> {
        self.node(s, sign);
        let mut get_stored = tx.prepare_cached(SPAN_BY_ID)?;
        let mut get = |trace: i64, span: &str| -> Result<Option<MapSpan>, StoreError> {
            match fresh.trace(trace) {
                Some(t) => Ok(t.spans.get(span).map(|f| f.span.clone())),
                None => Ok(get_stored
                    .query_row(rusqlite::params![trace, span], MapSpan::from_row)
                    .optional()?),
            }
        };
        let in_memory = fresh.trace(s.trace);
        // The edge from its parent; a parent with a peer loses it with its first answer.
        if let Some(pid) = s.parent_id.as_deref().filter(|p| *p != s.span_id)
            && let Some(p) = get(s.trace, pid)?
            && p.service != s.service
        {
            self.edge(
                &p.service,
                &s.service,
                pair_kind(p.kind, s.kind),
                s,
                pair_failed(&p, s),
                sign,
            );
            if p.peer.is_some() {
                let others: i64 = match in_memory {
                    Some(t) => t
                        .children(pid)
                        .filter(|c| c.service != p.service && c.span_id != s.span_id)
                        .count() as i64,
                    None => tx
                        .prepare_cached(
                            "SELECT count(*) FROM spans WHERE trace_no = ?1 AND parent_id = ?2
                             AND service <> ?3 AND span_id <> ?4",
                        )?
                        .query_row(rusqlite::params![s.trace, pid, p.service, s.span_id], |r| {
                            r.get(0)
                        })?,
                };
                if others == 0 {
                    self.peer(&p, -sign);
                }
            }
        }
        // The edges to its children stored before it.
        let children: Vec<MapSpan> = match in_memory {
            Some(t) => t
                .children(&s.span_id)
                .filter(|c| c.span_id != s.span_id)
                .cloned()
                .collect(),
            None => tx
                .prepare_cached(concat!(
                    map_span!(),
                    " FROM spans WHERE trace_no = ?1 AND parent_id = ?2 AND span_id <> ?2"
                ))?
                .query_map(rusqlite::params![s.trace, s.span_id], MapSpan::from_row)?
                .collect::<Result<_, _>>()?,
        };
        let mut answered = false;
        for c in children.iter().filter(|c| c.service != s.service) {
            answered = true;
            self.edge(
                &s.service,
                &c.service,
                pair_kind(s.kind, c.kind),
                c,
                pair_failed(s, c),
                sign,
            );
        }
        if !answered {
            self.peer(s, sign);
        }
        // Its links to spans stored, and links from stored spans to it. Plain lookups by index:
        // the same as one join with `NOT (...)` over the pair, which SQLite re-prepared on
        // every step (ingest measured 5.6x slower).
        for (target_trace, target_span) in links {
            if *target_trace == trace_id && *target_span == s.span_id {
                continue;
            }
            if let Some(no) = fresh.resolve(tx, target_trace)?
                && let Some(p) = get(no, target_span)?
                && p.service != s.service
            {
                self.edge(&p.service, &s.service, "link", s, pair_failed(&p, s), sign);
            }
        }
        let sources: Vec<(i64, String)> = if linked_to {
            tx.prepare_cached(
                "SELECT trace_no, span_id FROM links WHERE linked_trace = ?1 AND linked_span = ?2",
            )?
            .query_map([trace_id, &s.span_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        for (source_trace, source_span) in sources {
            if source_trace == s.trace && source_span == s.span_id {
                continue;
            }
            if let Some(c) = get(source_trace, &source_span)?
                && c.service != s.service
            {
                self.edge(&s.service, &c.service, "link", &c, pair_failed(s, &c), sign);
            }
        }
        Ok(())
    }

    /// Writes the changes into the buckets.
    pub(super) fn apply(self, tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
        let mut node = tx.prepare_cached(
            "INSERT INTO map_nodes VALUES (?1, ?2, ?3, ?4) ON CONFLICT(bucket, service)
             DO UPDATE SET spans = spans + excluded.spans, errors = errors + excluded.errors",
        )?;
        for ((bucket, service), (spans, errors)) in &self.nodes {
            if (*spans, *errors) != (0, 0) {
                node.execute(rusqlite::params![bucket, service, spans, errors])?;
            }
        }
        tx.execute("DELETE FROM map_nodes WHERE spans <= 0", [])?;
        let mut read = tx.prepare_cached(
            "SELECT calls, errors, hist FROM map_edges
             WHERE bucket = ?1 AND from_service = ?2 AND to_service = ?3 AND kind = ?4",
        )?;
        let mut write = tx.prepare_cached(
            "INSERT OR REPLACE INTO map_edges VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut remove = tx.prepare_cached(
            "DELETE FROM map_edges WHERE bucket = ?1 AND from_service = ?2 AND to_service = ?3 AND kind = ?4",
        )?;
        for ((bucket, from, to, kind), d) in self.edges {
            if d.calls == 0 && d.errors == 0 && d.hist.values().all(|n| *n == 0) {
                continue;
            }
            let old: Option<(i64, i64, Vec<u8>)> = read
                .query_row(rusqlite::params![bucket, from, to, kind], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            let (calls, errors, mut hist) =
                old.map_or((0, 0, HashMap::new()), |(c, e, h)| (c, e, hist_read(&h)));
            for (i, n) in d.hist {
                *hist.entry(i).or_default() += n;
            }
            hist.retain(|_, n| *n > 0);
            let (calls, errors) = (calls + d.calls, errors + d.errors);
            if calls <= 0 {
                remove.execute(rusqlite::params![bucket, from, to, kind])?;
            } else {
                write.execute(rusqlite::params![
                    bucket,
                    from,
                    to,
                    kind,
                    calls,
                    errors,
                    hist_write(&hist)
                ])?;
            }
        }
        Ok(())
    }
}

/// A histogram as (index, count) pairs, two little-endian u16/u32 per entry.
fn hist_write(h: &HashMap<usize, i64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(h.len() * 6);
    let mut entries: Vec<_> = h.iter().collect();
    entries.sort();
    for (i, n) in entries {
        out.extend_from_slice(&(*i as u16).to_le_bytes());
        out.extend_from_slice(&(u32::try_from(*n).unwrap_or(u32::MAX)).to_le_bytes());
    }
    out
}

fn hist_read(b: &[u8]) -> HashMap<usize, i64> {
    b.chunks_exact(6)
        .map(|c| {
            (
                usize::from(u16::from_le_bytes([c[0], c[1]])),
                i64::from(u32::from_le_bytes([c[2], c[3], c[4], c[5]])),
            )
        })
        .collect()
}

/// An edge's calls, errors and duration histogram, summed over a window's buckets.
type EdgeSum = (i64, i64, HashMap<usize, i64>);

/// Nearest-rank percentile of a histogram, in milliseconds.
fn hist_percentile(h: &HashMap<usize, i64>, p: f64) -> f64 {
    let total: i64 = h.values().sum();
    if total <= 0 {
        return 0.0;
    }
    let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as i64;
    let mut entries: Vec<_> = h.iter().collect();
    entries.sort();
    let mut seen = 0;
    for (i, n) in entries {
        seen += n;
        if seen >= rank {
            return hist_value(*i) / 1e6;
        }
    }
    0.0
}

impl Store {
    /// The service map of the spans that started in the minutes overlapping
    /// `[from_ns, to_ns)`, from the buckets kept at ingest. p50 and p99 come from
    /// quarter-octave histograms: within 9 % of the exact figures.
    ///
    /// ```
    /// # let request = serde_json::json!([
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "post /checkout",
    /// #      "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 5000,
    /// #      "localEndpoint": {"serviceName": "gateway"}, "tags": {"http.route": "/checkout"}},
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b8", "parentId": "00f067aa0ba902b7",
    /// #      "name": "reserve", "kind": "CLIENT", "timestamp": 1_700_000_000_000_100u64, "duration": 3000,
    /// #      "localEndpoint": {"serviceName": "gateway"}},
    /// #     {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b9", "parentId": "00f067aa0ba902b8",
    /// #      "name": "reserve", "kind": "SERVER", "timestamp": 1_700_000_000_000_200u64, "duration": 2000,
    /// #      "localEndpoint": {"serviceName": "inventory"}, "tags": {"error": "out of stock"}}
    /// # ]);
    /// # let spans = traceweave_view::decode::zipkin(&request, &Default::default()).unwrap();
    /// # let store = traceweave_view::Store::memory(traceweave_view::Retention::unbounded()).unwrap();
    /// # store.insert(&spans).unwrap();
    /// // The last 15 minutes of a trace stored in 2023: nothing.
    /// let now = 1_800_000_000_000_000_000;
    /// assert!(store.service_map(now - 900_000_000_000, now).unwrap().edges.is_empty());
    /// ```
    pub fn service_map(&self, from_ns: i64, to_ns: i64) -> Result<ServiceMap, StoreError> {
        let (lo, hi) = (bucket_of(from_ns), bucket_of(to_ns.saturating_sub(1)));
        let inner = self.lock();
        let conn = &inner.conn;
        let mut nodes: Vec<MapNode> = conn
            .prepare_cached(
                "SELECT service, sum(spans), sum(errors) FROM map_nodes
                 WHERE bucket >= ?1 AND bucket <= ?2 GROUP BY service ORDER BY service",
            )?
            .query_map([lo, hi], |r| {
                Ok(MapNode {
                    service: r.get(0)?,
                    spans: r.get(1)?,
                    errors: r.get(2)?,
                    inferred: false,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut sums: HashMap<(String, String, String), EdgeSum> = HashMap::new();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT from_service, to_service, kind, calls, errors, hist FROM map_edges
                 WHERE bucket >= ?1 AND bucket <= ?2",
            )?;
            let mut rows = stmt.query([lo, hi])?;
            while let Some(r) = rows.next()? {
                let e = sums.entry((r.get(0)?, r.get(1)?, r.get(2)?)).or_default();
                e.0 += r.get::<_, i64>(3)?;
                e.1 += r.get::<_, i64>(4)?;
                for (i, n) in hist_read(&r.get::<_, Vec<u8>>(5)?) {
                    *e.2.entry(i).or_default() += n;
                }
            }
        }
        let known: HashSet<String> = nodes.iter().map(|n| n.service.clone()).collect();
        let seconds = (to_ns.saturating_sub(from_ns).max(1) as f64) / 1e9;
        let mut edges: Vec<MapEdge> = Vec::with_capacity(sums.len());
        let mut inferred: Vec<String> = Vec::new();
        for ((from, to, kind), (calls, errors, hist)) in sums {
            if calls <= 0 {
                continue;
            }
            if (kind == "database" || kind == "rpc")
                && !known.contains(&to)
                && !inferred.contains(&to)
            {
                inferred.push(to.clone());
            }
            let calls = calls as u64;
            let errors = errors.max(0) as u64;
            edges.push(MapEdge {
                from,
                to,
                kind,
                calls,
                errors,
                rate_per_s: calls as f64 / seconds,
                error_rate: errors as f64 / calls.max(1) as f64,
                p50_ms: hist_percentile(&hist, 50.0),
                p99_ms: hist_percentile(&hist, 99.0),
            });
        }
        inferred.sort();
        for service in inferred {
            nodes.push(MapNode {
                service,
                spans: 0,
                errors: 0,
                inferred: true,
            });
        }
        Ok(ServiceMap::sorted(from_ns, to_ns, nodes, edges))
    }
}
