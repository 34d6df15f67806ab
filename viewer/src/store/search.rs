//! The trace list's filters, one trace's spans, and the services. Filters match exactly:
//! services by value (`trace_services`), attributes by key through `json_each` (any key is
//! valid, `\` and `"` included), numbers saturate.

use rusqlite::{OptionalExtension, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Store, StoreError};
use crate::model::{EventRow, LinkRow, SpanRow};

/// The trace list's filters; every one is optional.
#[derive(Clone, Debug, Default, Deserialize)]
///
/// ```
/// use traceweave_view::Query;
/// // Failed traces of `checkout` that took at least 200 ms and touched user 42.
/// let query = Query {
///     service: Some("checkout".into()),
///     min_ms: Some(200.0),
///     error: Some(true),
///     attr: Some("user.id=42".into()),
///     ..Query::default()
/// };
/// assert_eq!(query.attribute_pairs(), [("user.id".to_owned(), "42".to_owned())]);
/// ```
pub struct Query {
    /// A span of this service is in the trace.
    pub service: Option<String>,
    /// A span with this name (of `service`, when given) is in the trace.
    pub operation: Option<String>,
    /// The trace lasts at least / at most this long.
    pub min_ms: Option<f64>,
    /// See `min_ms`.
    pub max_ms: Option<f64>,
    /// Only traces with a failed span.
    pub error: Option<bool>,
    /// `key=value` pairs separated by spaces: a span of the trace has each attribute.
    pub attr: Option<String>,
    /// This trace only (32 hex digits; a shorter prefix matches the start).
    pub trace_id: Option<String>,
    /// Traces that started in `[since_ns, until_ns)`.
    pub since_ns: Option<i64>,
    /// See `since_ns`.
    pub until_ns: Option<i64>,
    /// At most this many (default 100).
    pub limit: Option<u32>,
}

impl Query {
    /// The `key=value` pairs of `attr`.
    ///
    /// ```
    /// use traceweave_view::Query;
    /// let query = Query { attr: Some(r#"http.route=/cart note="two words""#.into()), ..Query::default() };
    /// assert_eq!(query.attribute_pairs().len(), 2);
    /// ```
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
/// let row = &store.all_traces().unwrap()[0];
/// assert_eq!((row.root_service.as_str(), row.root_name.as_str()), ("gateway", "post /checkout"));
/// assert_eq!((row.span_count, row.error_count), (3, 1));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceSummary {
    /// 32 hex digits.
    pub trace_id: String,
    /// When its first span started.
    pub start_ns: i64,
    /// From its first span's start to its last span's end.
    pub duration_ns: i64,
    /// The service of its root span (while the root has not arrived, of its earliest span).
    pub root_service: String,
    /// The name of that span.
    pub root_name: String,
    /// Its spans.
    pub span_count: i64,
    /// Its failed spans.
    pub error_count: i64,
    /// Spans per service.
    pub services: Map<String, Value>,
}

/// A service and the span names seen from it.
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
/// let gateway = store.services().into_iter().find(|s| s.service == "gateway").unwrap();
/// assert!(gateway.operations.contains(&"post /checkout".to_owned()));
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct ServiceOperations {
    /// The service.
    pub service: String,
    /// The span names seen from it, sorted.
    pub operations: Vec<String>,
}

/// Milliseconds as nanoseconds, saturating (`NaN` is 0).
fn ms_to_ns(ms: f64) -> i64 {
    (ms * 1e6) as i64
}

const SPAN_COLUMNS: &str = "t.trace_id, s.span_id, s.parent_id, s.service, s.name, s.kind, \
    s.start_ns, s.end_ns, s.status, s.status_message, s.attributes, s.events, s.links, r.json, \
    c.name, s.truncated";

impl Store {
    /// Traces matching `q`, newest first.
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
    /// use traceweave_view::Query;
    /// let failed = store.search(&Query { service: Some("inventory".into()), error: Some(true), ..Query::default() }).unwrap();
    /// assert_eq!(failed.len(), 1);
    /// let none = store.search(&Query { service: Some("Inventory".into()), ..Query::default() }).unwrap();
    /// assert!(none.is_empty(), "services match exactly");
    /// ```
    pub fn search(&self, q: &Query) -> Result<Vec<TraceSummary>, StoreError> {
        use rusqlite::types::Value as V;
        let mut sql = String::from(
            "SELECT t.trace_id, t.start_ns, t.end_ns - t.start_ns, t.root_service, t.root_name,
               t.span_count, t.error_count,
               (SELECT json_group_object(service, spans) FROM trace_services ts
                 WHERE ts.trace_no = t.no)
             FROM traces t WHERE 1",
        );
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
                    " AND EXISTS (SELECT 1 FROM spans s WHERE s.trace_no = t.no \
                     AND s.service = ?{s} AND s.name = ?{o})"
                );
            }
            (Some(s), None) => {
                let i = bind(V::Text(s.to_owned()));
                sql += &format!(
                    " AND EXISTS (SELECT 1 FROM trace_services ts \
                     WHERE ts.trace_no = t.no AND ts.service = ?{i})"
                );
            }
            (None, Some(o)) => {
                let i = bind(V::Text(o.to_owned()));
                sql += &format!(
                    " AND EXISTS (SELECT 1 FROM spans s WHERE s.trace_no = t.no AND s.name = ?{i})"
                );
            }
            (None, None) => {}
        }
        if let Some(ms) = q.min_ms {
            let i = bind(V::Integer(ms_to_ns(ms)));
            sql += &format!(" AND t.end_ns - t.start_ns >= ?{i}");
        }
        if let Some(ms) = q.max_ms {
            let i = bind(V::Integer(ms_to_ns(ms)));
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
            let k = bind(V::Text(key));
            let v = bind(V::Text(value));
            sql += &format!(
                " AND EXISTS (SELECT 1 FROM spans s, json_each(s.attributes) a \
                 WHERE s.trace_no = t.no AND a.key = ?{k} AND \
                 (CAST(a.value AS TEXT) = ?{v} OR (a.type = ?{v} AND ?{v} IN ('true', 'false'))))"
            );
        }
        let i = bind(V::Integer(i64::from(q.limit.unwrap_or(100))));
        sql += &format!(" ORDER BY t.start_ns DESC LIMIT ?{i}");
        let inner = self.lock();
        let mut stmt = inner.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            let services: Option<String> = r.get(7)?;
            Ok(TraceSummary {
                trace_id: r.get(0)?,
                start_ns: r.get(1)?,
                duration_ns: r.get(2)?,
                root_service: r.get(3)?,
                root_name: r.get(4)?,
                span_count: r.get(5)?,
                error_count: r.get(6)?,
                services: services
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every trace stored, newest first.
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
    /// assert_eq!(store.all_traces().unwrap()[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    /// ```
    pub fn all_traces(&self) -> Result<Vec<TraceSummary>, StoreError> {
        self.search(&Query {
            limit: Some(u32::MAX),
            ..Query::default()
        })
    }

    /// Every span of a trace, earliest first (empty when the trace is unknown).
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
    /// let trace = store.trace("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    /// assert_eq!(trace.len(), 3);
    /// assert!(store.trace("00000000000000000000000000000001").unwrap().is_empty());
    /// ```
    pub fn trace(&self, trace_id: &str) -> Result<Vec<SpanRow>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(&format!(
            "SELECT {SPAN_COLUMNS} FROM traces t JOIN spans s ON s.trace_no = t.no \
             JOIN resources r ON r.id = s.resource_id JOIN scopes c ON c.id = s.scope_id \
             WHERE t.trace_id = ?1 ORDER BY s.start_ns"
        ))?;
        // Spans of one trace mostly share a resource: parse each once.
        let mut parsed: std::collections::HashMap<String, std::sync::Arc<Map<String, Value>>> =
            std::collections::HashMap::new();
        let mut rows = stmt.query([trace_id.to_ascii_lowercase()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let json_map = |i: usize| -> rusqlite::Result<Map<String, Value>> {
                let s: String = r.get(i)?;
                Ok(serde_json::from_str(&s).unwrap_or_default())
            };
            let events: String = r.get(11)?;
            let links: String = r.get(12)?;
            let resource: String = r.get(13)?;
            let resource = match parsed.get(&resource) {
                Some(r) => r.clone(),
                None => {
                    let map =
                        std::sync::Arc::new(serde_json::from_str(&resource).unwrap_or_default());
                    parsed.insert(resource, std::sync::Arc::clone(&map));
                    map
                }
            };
            out.push(SpanRow {
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
                resource,
                scope: r.get(14)?,
                truncated: r.get(15)?,
            });
        }
        Ok(out)
    }

    /// Every service with the span names seen from it (from the cache: never waits for a
    /// write).
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
    /// let names: Vec<String> = store.services().into_iter().map(|s| s.service).collect();
    /// assert_eq!(names, ["gateway", "inventory"]);
    /// ```
    pub fn services(&self) -> Vec<ServiceOperations> {
        let ops = self.operations.read().unwrap_or_else(|p| p.into_inner());
        ops.iter()
            .map(|(service, names)| ServiceOperations {
                service: service.clone(),
                operations: names.iter().cloned().collect(),
            })
            .collect()
    }

    /// The first and last span times stored, if any.
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
    /// let (from, to) = store.time_range().unwrap().unwrap();
    /// assert_eq!((from, to - from), (1_700_000_000_000_000_000, 5_000_000));
    /// ```
    pub fn time_range(&self) -> Result<Option<(i64, i64)>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .conn
            .query_row(
                "SELECT min(start_ns), max(end_ns) FROM traces HAVING count(*) > 0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}
