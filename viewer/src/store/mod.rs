//! The span database: SQLite, in memory or in a file, bounded by a retention setting in spans
//! and in bytes.
//!
//! - `schema`: the tables, and the version a file must carry;
//! - `ingest`: storing spans, in chunks that hold the lock briefly, with the per-trace summary,
//!   per-trace services and the caches updated only after a commit;
//! - `retention`: dropping the oldest traces past the span or byte bound, on every insert;
//! - `search`: the trace list's filters, one trace, the services;
//! - `map`: the service map of a time window.
//!
//! What the UI asks often and cheaply (services, counts) is answered from caches that live
//! outside the connection's lock, so a long write never stalls them.

mod ingest;
mod map;
mod retention;
mod schema;
mod search;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

use rusqlite::Connection;
use serde_json::{Map, Value};

pub use map::{MapEdge, MapNode, ServiceMap};
pub use search::{Query, ServiceOperations, TraceSummary};

/// Why the store failed; `Display` says what to do where it can.
///
/// ```
/// use traceweave_view::{Retention, Store, StoreError};
/// let dir = std::env::temp_dir().join(format!("tw-view-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("spans.db");
/// let first = Store::file(&path, Retention::default()).unwrap();
/// // A second store on the same file is refused, naming the process that holds it.
/// assert!(matches!(Store::file(&path, Retention::default()), Err(StoreError::Locked(_))));
/// drop(first);
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused (a full disk, a corrupt file).
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The `--db` file holds something else.
    #[error("{0}")]
    OtherLayout(String),
    /// Another process keeps its spans in the `--db` file.
    #[error("{0}")]
    Locked(String),
    /// The lock file could not be made.
    #[error(transparent)]
    Io(std::io::Error),
}

/// How much the store keeps: the oldest traces go first when any bound is passed, checked on
/// every insert.
#[derive(Clone, Copy, Debug)]
///
/// ```
/// use traceweave_view::{Retention, Store};
/// // Keep about 256 MiB of span data and nothing older than a day.
/// let retention = Retention {
///     max_bytes: 256 << 20,
///     max_age_ns: Some(24 * 3600 * 1_000_000_000),
///     ..Retention::default()
/// };
/// let store = Store::memory(retention).unwrap();
/// # drop(store);
/// ```
pub struct Retention {
    /// At most this many spans (default 2,000,000).
    pub max_spans: u64,
    /// At most about this many bytes of span data (names, attributes, events, links and a fixed
    /// cost per span for ids and indexes; default 1 GiB). What SQLite's pages and indexes add
    /// on top stays within a small factor of it.
    pub max_bytes: u64,
    /// Traces that ended longer ago than this are dropped (default: kept whatever their age).
    pub max_age_ns: Option<i64>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_spans: 2_000_000,
            max_bytes: 1 << 30,
            max_age_ns: None,
        }
    }
}

impl Retention {
    /// Everything kept (reports of files).
    ///
    /// ```
    /// use traceweave_view::{Retention, Store};
    /// // Keeps everything: for a report of files that are all wanted.
    /// let store = Store::memory(Retention::unbounded()).unwrap();
    /// # drop(store);
    /// ```
    pub fn unbounded() -> Self {
        Retention {
            max_spans: u64::MAX,
            max_bytes: u64::MAX,
            max_age_ns: None,
        }
    }
}

/// The in-memory database's page size.
const PAGE_SIZE: i64 = 16 << 10;

/// The connection and what only writers touch.
struct Inner {
    conn: Connection,
    /// Resource JSON -> id, of committed rows only.
    resources: std::collections::HashMap<String, i64>,
    /// Scope name -> id, of committed rows only.
    scopes: std::collections::HashMap<String, i64>,
    /// Every (trace, span) some stored link points at: a span stored later looks up the links
    /// to it only when it is one of them (most spans are linked from nowhere).
    link_targets: std::collections::HashSet<(String, String)>,
    /// The number the next new trace takes (`traces.no`): numbers only grow, in order of
    /// arrival, so a chunk's rows go to the right edge of the indexes keyed by them.
    next_trace_no: i64,
}

/// The span database; share it behind an `Arc`.
///
/// ```
/// let request = serde_json::json!([{
///     "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7",
///     "name": "get /orders", "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64,
///     "duration": 1500, "localEndpoint": {"serviceName": "shop"},
/// }]);
/// use traceweave_view::{Query, Retention, Store};
///
/// let store = Store::memory(Retention::default()).unwrap();
/// store.insert(&traceweave_view::decode::zipkin(&request, &Default::default()).unwrap()).unwrap();
/// let found = store.search(&Query { service: Some("shop".into()), ..Query::default() }).unwrap();
/// assert_eq!(found[0].root_name, "get /orders");
/// let spans = store.trace(&found[0].trace_id).unwrap();
/// assert_eq!(spans.len(), 1);
/// ```
pub struct Store {
    inner: Mutex<Inner>,
    /// Service -> its span names, of committed spans: `/api/services` never waits for a write.
    operations: RwLock<BTreeMap<String, std::collections::BTreeSet<String>>>,
    operation_count: std::sync::atomic::AtomicUsize,
    spans: AtomicU64,
    /// About how many bytes of span data, resources and scopes are stored.
    bytes: AtomicU64,
    retention: Retention,
    /// Held while the store lives: one process per `--db` file.
    _lock: Option<FileLock>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

/// An exclusive lock on `<db>.lock`, holding the owner's pid.
struct FileLock {
    _file: std::fs::File,
}

impl FileLock {
    fn take(db: &Path) -> Result<FileLock, StoreError> {
        use std::io::{Read, Seek, Write};
        let mut path = PathBuf::from(db);
        path.as_mut_os_string().push(".lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(StoreError::Io)?;
        if file.try_lock().is_err() {
            let mut owner = String::new();
            let _ = file.read_to_string(&mut owner);
            let owner = owner.trim();
            return Err(StoreError::Locked(format!(
                "{} is in use by another traceweave-view (process {}): stop it, or give \
                 another --db file",
                db.display(),
                if owner.is_empty() { "unknown" } else { owner }
            )));
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(FileLock { _file: file })
    }
}

impl Store {
    /// An empty store in memory.
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
    /// assert_eq!(store.span_count(), 3);
    /// ```
    pub fn memory(retention: Retention) -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        // When a B-tree split sorts its new pages, SQLite parks one at the page after the
        // 1 GiB lock byte; every commit then drops pages past that number from the page cache
        // by scanning the cache's whole hash: of every page of an in-memory database. With
        // 16 KiB pages there are a quarter as many to scan.
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        Self::with(conn, retention, None)
    }

    /// A store in `path`, created if missing; what it held is kept. One process at a time: a
    /// second one is refused, told which process holds the file.
    ///
    /// ```
    /// use traceweave_view::{Retention, Store};
    /// let dir = std::env::temp_dir().join(format!("tw-view-file-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let store = Store::file(&dir.join("spans.db"), Retention::default()).unwrap();
    /// assert_eq!(store.span_count(), 0);
    /// # drop(store);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn file(path: &Path, retention: Retention) -> Result<Self, StoreError> {
        let lock = FileLock::take(path)?;
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // The WAL is truncated back to this after each checkpoint (every ~4 MiB written; writes
        // come in chunks of 1,000 spans), so it never holds more than a few chunks.
        conn.pragma_update(None, "journal_size_limit", 4i64 << 20)?;
        Self::with(conn, retention, Some(lock))
    }

    fn with(
        conn: Connection,
        retention: Retention,
        lock: Option<FileLock>,
    ) -> Result<Self, StoreError> {
        schema::prepare(&conn)?;
        // Ingest cycles through ~30 statements per chunk: with rusqlite's default cache of 16
        // each was parsed again on every use (ingest measured 7x slower).
        conn.set_prepared_statement_cache_capacity(64);
        let (spans, bytes): (i64, i64) = conn.query_row(
            "SELECT coalesce(sum(span_count), 0), coalesce(sum(bytes), 0)
               + (SELECT coalesce(sum(length(json) + 64), 0) FROM resources)
               + (SELECT coalesce(sum(length(name) + 64), 0) FROM scopes)
             FROM traces",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut operations: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        {
            let mut stmt = conn.prepare("SELECT service, name FROM operations")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
            for row in rows {
                let (service, name) = row?;
                operations.entry(service).or_default().insert(name);
            }
        }
        let operation_count = operations.values().map(|names| names.len()).sum();
        let link_targets = link_targets(&conn)?;
        let next_trace_no: i64 =
            conn.query_row("SELECT coalesce(max(no), 0) + 1 FROM traces", [], |r| {
                r.get(0)
            })?;
        Ok(Store {
            operation_count: std::sync::atomic::AtomicUsize::new(operation_count),
            inner: Mutex::new(Inner {
                conn,
                resources: Default::default(),
                scopes: Default::default(),
                link_targets,
                next_trace_no,
            }),
            operations: RwLock::new(operations),
            spans: AtomicU64::new(u64::try_from(spans).unwrap_or(0)),
            bytes: AtomicU64::new(u64::try_from(bytes).unwrap_or(0)),
            retention,
            _lock: lock,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many spans are stored (never waits for a write).
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
    /// store.insert(&spans).unwrap(); // the same spans again: replaced, not counted twice
    /// assert_eq!(store.span_count(), 3);
    /// ```
    pub fn span_count(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }

    /// Makes the store's file "full" past `pages` more pages (SQLite's `max_page_count`):
    /// what a full disk does, for tests of how a failed write is handled.
    #[doc(hidden)]
    pub fn fill_disk_after(&self, pages: i64) -> Result<(), StoreError> {
        let inner = self.lock();
        let used: i64 = inner
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))?;
        inner
            .conn
            .pragma_update(None, "max_page_count", used.saturating_add(pages))?;
        Ok(())
    }

    /// About how many bytes of span data are stored (see [`Retention::max_bytes`]).
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
    /// // What retention's --retain-bytes compares: the spans' texts and their overhead.
    /// assert!(store.byte_count() > 3 * 100);
    /// ```
    pub fn byte_count(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Every (trace, span) a stored link points at.
fn link_targets(
    conn: &Connection,
) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
    let mut stmt = conn.prepare("SELECT DISTINCT linked_trace, linked_span FROM links")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The stored form of a JSON map.
fn json_text(map: &Map<String, Value>) -> String {
    serde_json::to_string(map).unwrap_or_default()
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
