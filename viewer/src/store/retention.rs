//! Retention, enforced on every insert: traces older than the age bound go, then the oldest
//! traces until the store is back under 95 % of its span and byte bounds (so deletes come in
//! batches, not one per insert). Resources and scopes no span uses any more go with them.

use std::sync::atomic::Ordering;

use rusqlite::params;

use super::{Inner, Store, StoreError, now_ns};

impl Store {
    pub(super) fn enforce_retention(&self, inner: &mut Inner) -> Result<(), StoreError> {
        let r = self.retention;
        let spans = self.spans.load(Ordering::Relaxed);
        let age_due = r.max_age_ns.is_some();
        let bytes = self.bytes.load(Ordering::Relaxed);
        if !age_due && spans <= r.max_spans && bytes <= r.max_bytes {
            return Ok(());
        }
        // (trace number, trace id, spans, bytes)
        let mut doomed: Vec<(i64, String, u64, u64)> = Vec::new();
        let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, String, u64, u64)> {
            let (spans, bytes): (i64, i64) = (r.get(2)?, r.get(3)?);
            Ok((
                r.get(0)?,
                r.get(1)?,
                spans.max(0) as u64,
                bytes.max(0) as u64,
            ))
        };
        if let Some(age) = r.max_age_ns {
            let mut stmt = inner.conn.prepare_cached(
                "SELECT no, trace_id, span_count, bytes FROM traces WHERE start_ns < ?1 AND end_ns < ?1",
            )?;
            let rows = stmt.query_map([now_ns().saturating_sub(age)], row)?;
            for row in rows {
                doomed.push(row?);
            }
        }
        let (mut left_spans, mut left_bytes) = doomed.iter().fold((spans, bytes), |(s, b), d| {
            (s.saturating_sub(d.2), b.saturating_sub(d.3))
        });
        if left_spans > r.max_spans || left_bytes > r.max_bytes {
            let (span_goal, byte_goal) = (r.max_spans / 20 * 19, r.max_bytes / 20 * 19);
            let mut stmt = inner.conn.prepare_cached(
                "SELECT no, trace_id, span_count, bytes FROM traces ORDER BY start_ns LIMIT ?1 OFFSET ?2",
            )?;
            let mut offset = 0i64;
            'outer: while left_spans > span_goal || left_bytes > byte_goal {
                let rows: Vec<(i64, String, u64, u64)> = stmt
                    .query_map(params![1000, offset], row)?
                    .collect::<Result<_, _>>()?;
                if rows.is_empty() {
                    break;
                }
                offset += rows.len() as i64;
                for row in rows {
                    if doomed.iter().any(|d| d.0 == row.0) {
                        continue;
                    }
                    left_spans = left_spans.saturating_sub(row.2);
                    left_bytes = left_bytes.saturating_sub(row.3);
                    doomed.push(row);
                    if left_spans <= span_goal && left_bytes <= byte_goal {
                        break 'outer;
                    }
                }
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        let tx = inner.conn.transaction()?;
        let (mut removed, mut removed_bytes) = (0u64, 0u64);
        {
            let mut uses = tx.prepare_cached(
                "SELECT resource_id, scope_id, count(*) FROM spans WHERE trace_no = ?1
                 GROUP BY resource_id, scope_id",
            )?;
            let mut unuse_resource =
                tx.prepare_cached("UPDATE resources SET spans = spans - ?2 WHERE id = ?1")?;
            let mut unuse_scope =
                tx.prepare_cached("UPDATE scopes SET spans = spans - ?2 WHERE id = ?1")?;
            let mut span =
                tx.prepare_cached("DELETE FROM spans WHERE trace_no = ?1 AND span_id = ?2")?;
            let mut span_links =
                tx.prepare_cached("DELETE FROM links WHERE trace_no = ?1 AND span_id = ?2")?;
            let mut map = super::map::MapDelta::default();
            let mut traces = tx.prepare_cached("DELETE FROM traces WHERE no = ?1")?;
            let mut services =
                tx.prepare_cached("DELETE FROM trace_services WHERE trace_no = ?1")?;
            for (no, id, _, bytes) in &doomed {
                let counts: Vec<(i64, i64, i64)> = uses
                    .query_map([no], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<_, _>>()?;
                for (resource, scope, n) in counts {
                    unuse_resource.execute([resource, n])?;
                    unuse_scope.execute([scope, n])?;
                }
                // One span at a time: each takes back from the map what it completed, against
                // the spans still stored, then goes.
                for s in super::map::trace_spans(&tx, *no)? {
                    map.span(&tx, &s, id, -1, &super::map::Fresh::default())?;
                    removed += span.execute(params![s.trace, s.span_id])? as u64;
                    span_links.execute(params![s.trace, s.span_id])?;
                }
                removed_bytes += bytes;
                traces.execute([no])?;
                services.execute([no])?;
            }
            map.apply(&tx)?;
        }
        // Resources and scopes of the dropped spans that nothing else uses.
        let orphans: Vec<(String, i64, String)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT 'resources', id, json FROM resources WHERE spans <= 0
                 UNION ALL SELECT 'scopes', id, name FROM scopes WHERE spans <= 0",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?
        };
        for (table, id, _) in &orphans {
            tx.execute(&format!("DELETE FROM {table} WHERE id = ?1"), [id])?;
        }
        tx.commit()?;
        for (table, _, key) in &orphans {
            match table.as_str() {
                "resources" => inner.resources.remove(key),
                _ => inner.scopes.remove(key),
            };
            removed_bytes += key.len() as u64 + 64;
        }
        self.bytes
            .store(bytes.saturating_sub(removed_bytes), Ordering::Relaxed);
        self.spans.fetch_sub(
            removed.min(self.spans.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        Ok(())
    }
}
