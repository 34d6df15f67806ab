//! Self-contained HTML reports: the viewer's UI with the traces inlined, openable from disk
//! with no server and no network.

use std::path::Path;

use serde_json::json;

use crate::store::{Retention, Store, StoreError};
use crate::ui;

/// Why a report could not be made.
///
/// ```
/// use traceweave_view::report::load_files;
/// let missing = std::env::temp_dir().join("no-such-traceweave-file.json");
/// assert!(load_files(&[missing]).is_err());
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read, or holds no format the viewer knows.
    #[error("{0}")]
    Input(String),
    /// The in-memory store refused.
    #[error("span store: {0}")]
    Store(#[from] StoreError),
}

/// Reads OTLP-JSON (one request per line, or one document) and Zipkin v2 JSON files into a
/// new in-memory store.
///
/// ```
/// let path = std::env::temp_dir().join(format!("tw-report-{}.json", std::process::id()));
/// std::fs::write(&path, r#"[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","id":"00f067aa0ba902b7","name":"a","timestamp":1700000000000000,"duration":1}]"#).unwrap();
/// let store = traceweave_view::report::load_files(&[&path]).unwrap();
/// assert_eq!(store.span_count(), 1);
/// # std::fs::remove_file(&path).ok();
/// ```
pub fn load_files<P: AsRef<Path>>(paths: &[P]) -> Result<Store, ReportError> {
    let store = Store::memory(Retention::unbounded())?;
    let limits = crate::model::IngestLimits::default();
    for path in paths {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ReportError::Input(format!("{}: {e}", path.display())))?;
        let spans = crate::decode::file_contents(&text, &limits)
            .map_err(|e| ReportError::Input(format!("{}: {e}", path.display())))?;
        store.insert(&spans)?;
    }
    Ok(store)
}

/// The HTML report of everything in `store` (every trace, its spans and the service map of
/// the whole time range).
///
/// ```
/// let request = serde_json::json!([{
///     "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7",
///     "name": "get /orders", "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64,
///     "duration": 1500, "localEndpoint": {"serviceName": "shop"},
/// }]);
/// use traceweave_view::{Retention, Store};
/// let store = Store::memory(Retention::default()).unwrap();
/// store.insert(&traceweave_view::decode::zipkin(&request, &Default::default()).unwrap()).unwrap();
/// // One file to mail or attach to a ticket; it needs no server.
/// let page = traceweave_view::report::html(&store, "orders incident").unwrap();
/// assert!(page.contains("orders incident") && page.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
/// ```
pub fn html(store: &Store, title: &str) -> Result<String, ReportError> {
    let traces = store.all_traces()?;
    let mut spans = serde_json::Map::new();
    for t in &traces {
        spans.insert(
            t.trace_id.clone(),
            serde_json::to_value(store.trace(&t.trace_id)?).unwrap_or_default(),
        );
    }
    let map = match store.time_range()? {
        Some((from, to)) => store.service_map(from, to + 1)?,
        None => Default::default(),
    };
    let data = json!({
        "title": title,
        "generated_ns": crate::store::now_ns(),
        "traces": traces,
        "spans": spans,
        "services": store.services(),
        "map": map,
    });
    Ok(ui::page(Some(&data.to_string())))
}
