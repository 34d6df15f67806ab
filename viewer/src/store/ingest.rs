//! Storing spans. A request's spans go in chunks of [`CHUNK`], one transaction each, so the
//! lock is held for a bounded time and queries interleave. Each trace's summary and its spans
//! per service are updated by difference (a re-sent span recomputes its trace); resources and
//! scopes are stored once and counted by the spans that use them. The in-memory caches change
//! only once a chunk is committed: a failed write (a full disk) leaves no trace of itself.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::Value;

use super::map::{Fresh, MapDelta, MapSpan};
use super::{Store, StoreError, json_text};
use crate::model::{KIND_CLIENT, STATUS_ERROR, SpanRow};

/// Spans per transaction (and per hold of the lock).
pub(super) const CHUNK: usize = 1000;

/// The (service, span name) pairs listed for the operation filter: past this many, new names
/// are stored with their spans but not listed (a sender of unique names cannot grow the list).
pub(super) const MAX_OPERATIONS: usize = 10_000;

/// What a span costs beyond its texts: ids, times, index entries.
const SPAN_OVERHEAD: u64 = 160;

/// A trace's change from one chunk's new spans.
#[derive(Default)]
struct Delta<'a> {
    /// Its id.
    trace_id: &'a str,
    /// No earlier chunk stored it: its row is inserted, not updated.
    fresh: bool,
    start: i64,
    end: i64,
    spans: i64,
    errors: i64,
    bytes: i64,
    /// (has a parent, start, service, name) of the best root candidate.
    root: Option<(bool, i64, &'a str, &'a str)>,
    services: HashMap<&'a str, i64>,
}

/// Ids given to resources (by JSON) or scopes (by name) in this chunk, with the spans that use
/// each.
#[derive(Default)]
struct Refs {
    new: HashMap<String, i64>,
    uses: HashMap<i64, i64>,
    new_bytes: u64,
}

impl Store {
    /// Stores spans (a span seen twice replaces its first copy) and updates their traces, then
    /// applies retention. Chunks already committed stay if a later one fails.
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
    /// assert_eq!(store.all_traces().unwrap().len(), 1);
    /// ```
    pub fn insert(&self, spans: &[SpanRow]) -> Result<(), StoreError> {
        // The rows' texts are made before the lock is taken: another request's chunk may be
        // stored meanwhile.
        let rows: Vec<Row<'_>> = spans.iter().map(Row::of).collect();
        for (chunk, rows) in spans.chunks(CHUNK).zip(rows.chunks(CHUNK)) {
            self.insert_chunk(chunk, rows)?;
        }
        Ok(())
    }

    fn insert_chunk(&self, spans: &[SpanRow], rows: &[Row<'_>]) -> Result<(), StoreError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut resources = Refs::default();
        let mut scopes = Refs::default();
        let mut new_ops: Vec<(&str, &str)> = Vec::new();
        let mut added = 0u64;
        let mut byte_change = 0i64;
        let mut next_no = inner.next_trace_no;
        let tx = inner.conn.transaction()?;
        let mut map = MapDelta::default();
        let mut new_targets: HashSet<(String, String)> = HashSet::new();
        {
            let known_ops = self.operations.read().unwrap_or_else(|p| p.into_inner());
            let mut insert_span = tx.prepare_cached(
                "INSERT OR REPLACE INTO spans VALUES
                 (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
            )?;
            let mut insert_link = tx.prepare_cached("INSERT INTO links VALUES (?1, ?2, ?3, ?4)")?;
            let mut previous = tx.prepare_cached(
                "SELECT bytes, resource_id, scope_id FROM spans WHERE trace_no = ?1 AND span_id = ?2",
            )?;
            let mut drop_links =
                tx.prepare_cached("DELETE FROM links WHERE trace_no = ?1 AND span_id = ?2")?;
            let mut is_stored = tx.prepare_cached("SELECT no FROM traces WHERE trace_id = ?1")?;
            let mut fresh = Fresh::default();
            let mut deltas: HashMap<i64, Delta<'_>> = HashMap::new();
            let mut recompute: HashMap<i64, &str> = HashMap::new();
            let mut last_resource: Option<(&serde_json::Map<String, Value>, i64)> = None;
            for (s, row) in spans.iter().zip(rows) {
                // Spans of one request share their resource: compare before serialising.
                let resource_id = match last_resource {
                    Some((map, id)) if std::ptr::eq(map, &*s.resource) || *map == *s.resource => id,
                    _ => {
                        let json = json_text(&s.resource);
                        let id = reference(
                            &tx,
                            &inner.resources,
                            &mut resources,
                            "resources",
                            "json",
                            &json,
                        )?;
                        last_resource = Some((&s.resource, id));
                        id
                    }
                };
                let scope_id =
                    reference(&tx, &inner.scopes, &mut scopes, "scopes", "name", &s.scope)?;
                *resources.uses.entry(resource_id).or_default() += 1;
                *scopes.uses.entry(scope_id).or_default() += 1;
                let bytes = row.bytes;
                // A trace first met in this chunk: is any of it stored already? If not, it
                // takes the next number and its spans are looked up in memory for the rest of
                // the chunk.
                let no = match fresh.number_of(&s.trace_id) {
                    Some(no) => no,
                    None => {
                        let stored: Option<i64> = is_stored
                            .query_row([&s.trace_id], |r| r.get(0))
                            .optional()?;
                        let no = stored.unwrap_or(next_no);
                        if stored.is_none() {
                            next_no += 1;
                        }
                        fresh.number(&s.trace_id, no, stored.is_none());
                        no
                    }
                };
                let old: Option<(i64, i64, i64)> = match fresh.trace(no) {
                    Some(t) => t.get(&s.span_id).map(|f| f.row),
                    None => previous
                        .query_row(params![no, s.span_id], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                        .optional()?,
                };
                match old {
                    // A span sent twice (a retried export) replaces its first copy.
                    Some((old_bytes, old_resource, old_scope)) => {
                        let in_memory = fresh.trace(no).and_then(|t| t.get(&s.span_id));
                        let stored = match in_memory {
                            Some(f) => f.span.clone(),
                            None => super::map::stored(&tx, no, &s.span_id)?,
                        };
                        map.span(&tx, &stored, &s.trace_id, -1, &fresh)?;
                        drop_links.execute(params![no, s.span_id])?;
                        *resources.uses.entry(old_resource).or_default() -= 1;
                        *scopes.uses.entry(old_scope).or_default() -= 1;
                        byte_change -= old_bytes;
                        recompute.insert(no, &s.trace_id);
                    }
                    None => {
                        added += 1;
                        let d = deltas.entry(no).or_insert_with(|| Delta {
                            trace_id: &s.trace_id,
                            fresh: fresh.trace(no).is_some(),
                            start: i64::MAX,
                            end: i64::MIN,
                            ..Delta::default()
                        });
                        d.start = d.start.min(s.start_ns);
                        d.end = d.end.max(s.end_ns);
                        d.spans += 1;
                        d.errors += i64::from(s.status == STATUS_ERROR);
                        d.bytes += bytes;
                        let candidate = (s.parent_id.is_some(), s.start_ns, &*s.service, &*s.name);
                        if d.root
                            .is_none_or(|r| (candidate.0, candidate.1) < (r.0, r.1))
                        {
                            d.root = Some(candidate);
                        }
                        *d.services.entry(&s.service).or_default() += 1;
                    }
                }
                byte_change += bytes;
                let peer = row.peer;
                insert_span.execute(params![
                    no,
                    s.span_id,
                    s.parent_id,
                    s.service,
                    s.name,
                    s.kind,
                    s.start_ns,
                    s.end_ns,
                    s.status,
                    s.status_message,
                    row.attributes,
                    row.events,
                    row.links,
                    resource_id,
                    scope_id,
                    peer.map(|p| p.0),
                    peer.is_some_and(|p| p.1),
                    s.truncated,
                    bytes,
                ])?;
                for l in &s.links {
                    insert_link.execute(params![no, s.span_id, l.trace_id, l.span_id])?;
                    new_targets.insert((l.trace_id.clone(), l.span_id.clone()));
                }
                let as_stored = MapSpan {
                    trace: no,
                    span_id: s.span_id.clone(),
                    parent_id: s.parent_id.clone(),
                    service: s.service.clone(),
                    kind: s.kind,
                    status: s.status,
                    start_ns: s.start_ns,
                    end_ns: s.end_ns,
                    peer: peer.map(|(p, db)| (p.to_owned(), db)),
                };
                let linked_to = (!inner.link_targets.is_empty() || !new_targets.is_empty()) && {
                    let key = (s.trace_id.clone(), s.span_id.clone());
                    inner.link_targets.contains(&key) || new_targets.contains(&key)
                };
                let links: Vec<(String, String)> = s
                    .links
                    .iter()
                    .map(|l| (l.trace_id.clone(), l.span_id.clone()))
                    .collect();
                map.add(&tx, &as_stored, &s.trace_id, &links, linked_to, &fresh)?;
                fresh.put(as_stored, (bytes, resource_id, scope_id));
                let known = known_ops
                    .get(&s.service)
                    .is_some_and(|names| names.contains(&s.name));
                let room =
                    self.operation_count.load(Ordering::Relaxed) + new_ops.len() < MAX_OPERATIONS;
                if !known && room && !new_ops.contains(&(&s.service, &s.name)) {
                    tx.execute(
                        "INSERT OR IGNORE INTO operations VALUES (?1, ?2)",
                        params![s.service, s.name],
                    )?;
                    new_ops.push((&s.service, &s.name));
                }
            }
            for (no, d) in &deltas {
                if !recompute.contains_key(no) {
                    apply_delta(&tx, *no, d)?;
                }
            }
            for (no, trace_id) in &recompute {
                recompute_trace(&tx, *no, trace_id)?;
            }
            map.apply(&tx)?;
            count_uses(&tx, "resources", &resources.uses)?;
            count_uses(&tx, "scopes", &scopes.uses)?;
        }
        tx.commit()?;
        // Committed: now the caches may learn of it.
        inner.next_trace_no = next_no;
        inner.link_targets.extend(new_targets);
        inner.resources.extend(resources.new);
        inner.scopes.extend(scopes.new);
        let bytes = self
            .bytes
            .load(Ordering::Relaxed)
            .saturating_add_signed(byte_change)
            .saturating_add(resources.new_bytes + scopes.new_bytes);
        self.bytes.store(bytes, Ordering::Relaxed);
        self.spans.fetch_add(added, Ordering::Relaxed);
        if !new_ops.is_empty() {
            self.operation_count
                .fetch_add(new_ops.len(), Ordering::Relaxed);
            let mut ops = self.operations.write().unwrap_or_else(|p| p.into_inner());
            for (service, name) in new_ops {
                ops.entry(service.to_owned())
                    .or_default()
                    .insert(name.to_owned());
            }
        }
        self.enforce_retention(inner)
    }
}

/// A span's row texts and size, made before the store's lock is taken.
pub(super) struct Row<'a> {
    attributes: String,
    events: String,
    links: String,
    /// What it counts toward retention's byte bound.
    bytes: i64,
    peer: Option<(&'a str, bool)>,
}

impl<'a> Row<'a> {
    fn of(s: &'a SpanRow) -> Row<'a> {
        let attributes = json_text(&s.attributes);
        let events = serde_json::to_string(&s.events).unwrap_or_default();
        let links = serde_json::to_string(&s.links).unwrap_or_default();
        let bytes = SPAN_OVERHEAD
            + (s.service.len()
                + s.name.len()
                + s.status_message.len()
                + attributes.len()
                + events.len()
                + links.len()) as u64;
        Row {
            attributes,
            events,
            links,
            bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
            peer: peer_of(s),
        }
    }
}

/// The id of a resource or scope (`table` keyed by `column`), added if new. Ids of committed
/// rows come from `known`; rows added in this transaction go to `refs.new` until it commits.
fn reference(
    tx: &Transaction<'_>,
    known: &HashMap<String, i64>,
    refs: &mut Refs,
    table: &str,
    column: &str,
    key: &str,
) -> Result<i64, StoreError> {
    if let Some(&id) = known.get(key).or_else(|| refs.new.get(key)) {
        return Ok(id);
    }
    let existing: Option<i64> = tx
        .prepare_cached(&format!("SELECT id FROM {table} WHERE {column} = ?1"))?
        .query_row([key], |r| r.get(0))
        .optional()?;
    let id = match existing {
        Some(id) => id,
        None => {
            tx.prepare_cached(&format!(
                "INSERT INTO {table}({column}, spans) VALUES (?1, 0)"
            ))?
            .execute([key])?;
            refs.new_bytes += key.len() as u64 + 64;
            tx.last_insert_rowid()
        }
    };
    refs.new.insert(key.to_owned(), id);
    Ok(id)
}

/// Adds each id's change in use to its row.
fn count_uses(
    tx: &Transaction<'_>,
    table: &str,
    uses: &HashMap<i64, i64>,
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(&format!(
        "UPDATE {table} SET spans = spans + ?2 WHERE id = ?1"
    ))?;
    for (id, n) in uses {
        if *n != 0 {
            stmt.execute([id, n])?;
        }
    }
    Ok(())
}

/// Adds a chunk's new spans to their trace's summary and services: the row inserted for a
/// trace no earlier chunk stored, updated otherwise.
fn apply_delta(tx: &Transaction<'_>, no: i64, d: &Delta<'_>) -> Result<(), StoreError> {
    let (has_parent, root_start, root_service, root_name) =
        d.root.unwrap_or((true, d.start, "", ""));
    let args = params![
        no,
        d.trace_id,
        d.start,
        d.end,
        d.spans,
        d.errors,
        root_service,
        root_name,
        has_parent,
        root_start,
        d.bytes
    ];
    if d.fresh {
        tx.prepare_cached(
            "INSERT INTO traces(no, trace_id, start_ns, end_ns, span_count, error_count,
               root_service, root_name, root_has_parent, root_start, bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(args)?;
    } else {
        tx.prepare_cached(
            "UPDATE traces SET
               start_ns = min(start_ns, ?3),
               end_ns = max(end_ns, ?4),
               span_count = span_count + ?5,
               error_count = error_count + ?6,
               bytes = bytes + ?11,
               root_service = CASE WHEN (?9, ?10) < (root_has_parent, root_start)
                 THEN ?7 ELSE root_service END,
               root_name = CASE WHEN (?9, ?10) < (root_has_parent, root_start)
                 THEN ?8 ELSE root_name END,
               root_start = CASE WHEN (?9, ?10) < (root_has_parent, root_start)
                 THEN ?10 ELSE root_start END,
               root_has_parent = min(root_has_parent, ?9)
             WHERE no = ?1 AND trace_id = ?2",
        )?
        .execute(args)?;
    }
    let mut services = tx.prepare_cached(
        "INSERT INTO trace_services VALUES (?1, ?2, ?3)
         ON CONFLICT(trace_no, service) DO UPDATE SET spans = spans + excluded.spans",
    )?;
    for (service, n) in &d.services {
        services.execute(params![no, service, n])?;
    }
    Ok(())
}

/// The summary and services of a trace, from its spans (after a span was replaced).
fn recompute_trace(tx: &Transaction<'_>, no: i64, trace_id: &str) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO traces
         SELECT ?1, ?2, min(start_ns), max(end_ns), count(*), sum(status = 2),
           (SELECT service FROM spans WHERE trace_no = ?1 ORDER BY parent_id IS NOT NULL, start_ns LIMIT 1),
           (SELECT name FROM spans WHERE trace_no = ?1 ORDER BY parent_id IS NOT NULL, start_ns LIMIT 1),
           (SELECT parent_id IS NOT NULL FROM spans WHERE trace_no = ?1 ORDER BY parent_id IS NOT NULL, start_ns LIMIT 1),
           (SELECT start_ns FROM spans WHERE trace_no = ?1 ORDER BY parent_id IS NOT NULL, start_ns LIMIT 1),
           sum(bytes)
         FROM spans WHERE trace_no = ?1",
    )?
    .execute(params![no, trace_id])?;
    tx.prepare_cached("DELETE FROM trace_services WHERE trace_no = ?1")?
        .execute([no])?;
    tx.prepare_cached(
        "INSERT INTO trace_services SELECT trace_no, service, count(*) FROM spans
         WHERE trace_no = ?1 GROUP BY service",
    )?
    .execute([no])?;
    Ok(())
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
