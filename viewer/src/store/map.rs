//! The service map of a time window: services, and the calls between them with RED metrics —
//! client → server and producer → consumer pairs across services, span links, and peers seen
//! only from their callers (databases, `peer.service`).

use std::collections::{HashMap, HashSet};

use rusqlite::OptionalExtension;
use serde::Serialize;

use super::{Store, StoreError};
use crate::model::{KIND_CLIENT, KIND_CONSUMER, KIND_PRODUCER, KIND_SERVER, STATUS_ERROR};

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

impl Store {
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
        let seconds = (to_ns.saturating_sub(from_ns).max(1) as f64) / 1e9;
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
/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
