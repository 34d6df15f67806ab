//! More spans end before `init` than one export batch holds: they are exported in batches of
//! the configured size, and counted exactly. (Its own test binary: it installs the global
//! tracer.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use traceweave::{ExportError, Exporter, Resource, SpanBatch};

#[derive(Debug, Clone, Default)]
struct BatchSizes(Arc<Mutex<Vec<usize>>>);

impl Exporter for BatchSizes {
    fn export(&mut self, spans: SpanBatch<'_>, _: &Resource) -> Result<(), ExportError> {
        self.0.lock().unwrap().push(spans.len());
        Ok(())
    }
}

#[traceweave::traced]
fn early() {}

#[test]
fn pre_init_spans_larger_than_a_batch() {
    for _ in 0..1_500 {
        early();
    }
    let sizes = BatchSizes::default();
    let guard = traceweave::builder()
        .ignore_env()
        .max_export_batch_size(100)
        .exporter(sizes.clone())
        .install()
        .unwrap();
    early();
    assert!(traceweave::force_flush().is_ok());
    let stats = traceweave::stats();
    assert_eq!(
        (
            stats.created,
            stats.exported,
            stats.dropped_queue_full,
            stats.queued
        ),
        (1_501, 1_025, 476, 0),
        "{stats:?}"
    );
    assert!(traceweave::shutdown(Duration::from_secs(10)).is_ok());
    drop(guard);
    let sizes = sizes.0.lock().unwrap().clone();
    assert!(sizes.iter().all(|&n| n <= 100), "{sizes:?}");
    // The first 1024 are kept before init, the rest dropped and counted; one more after init.
    assert_eq!(sizes.iter().sum::<usize>(), 1_025, "{sizes:?}");
}
