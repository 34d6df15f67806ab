//! Export failures, loud but bounded: the first failure of each kind is one line on stderr
//! (what failed, where, why, and what became of the spans); while it goes on, at most one line
//! a minute with what happened since. A kind is the exporter plus the error's kind (HTTP 404,
//! connection refused...), so a new kind of trouble is reported at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{ExportError, ExportErrorKind};

/// How often a continuing failure is reported again.
pub(crate) const REPEAT_EVERY: Duration = Duration::from_secs(60);

struct Ongoing {
    /// When the last line about this kind was printed.
    reported_at: Instant,
    /// Failures and spans lost since that line.
    failures: u64,
    spans: u64,
}

/// The failures seen by one tracer's exporters.
#[derive(Default)]
pub(crate) struct FailureLog {
    ongoing: HashMap<(usize, ExportErrorKind), Ongoing>,
}

impl FailureLog {
    /// Notes a failed export of `spans` spans by exporter `exporter`; returns the line to print,
    /// if one is due at `now`.
    pub(crate) fn failed(
        &mut self,
        exporter: usize,
        error: &ExportError,
        spans: usize,
        now: Instant,
    ) -> Option<String> {
        let kind = error.kind();
        let spans = spans as u64;
        match self.ongoing.get_mut(&(exporter, kind)) {
            None => {
                self.ongoing.insert(
                    (exporter, kind),
                    Ongoing {
                        reported_at: now,
                        failures: 0,
                        spans: 0,
                    },
                );
                Some(format!(
                    "export failed: {error}; {} dropped (reported once, then at most once a \
                     minute while it lasts; see traceweave::stats())",
                    spans_text(spans)
                ))
            }
            Some(o) => {
                o.failures += 1;
                o.spans += spans;
                let since = now.saturating_duration_since(o.reported_at);
                if since < REPEAT_EVERY {
                    return None;
                }
                let line = format!(
                    "export still failing: {error}; {} more failures and {} dropped in the last \
                     {}s",
                    o.failures,
                    spans_text(o.spans),
                    since.as_secs()
                );
                o.reported_at = now;
                o.failures = 0;
                o.spans = 0;
                Some(line)
            }
        }
    }

    /// Notes a delivery by exporter `exporter`: its failures are over, and a later one is
    /// reported at once again. Returns a line when something had been failing.
    pub(crate) fn delivered(&mut self, exporter: usize) -> Option<String> {
        if self.ongoing.is_empty() {
            return None;
        }
        let before = self.ongoing.len();
        self.ongoing.retain(|(e, _), _| *e != exporter);
        (self.ongoing.len() < before).then(|| "export recovered: spans are delivered again".into())
    }
}

fn spans_text(n: u64) -> String {
    if n == 1 {
        "1 span".to_owned()
    } else {
        format!("{n} spans")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kind_then_one_a_minute_with_counts() {
        let mut log = FailureLog::default();
        let t0 = Instant::now();
        let e404 = ExportError::new(
            ExportErrorKind::HttpStatus(404),
            "POST http://x/v1/traces answered 404",
        );
        let first = log.failed(0, &e404, 10, t0).unwrap();
        assert!(first.contains("answered 404") && first.contains("10 spans dropped"));
        for i in 1..100 {
            assert_eq!(
                log.failed(0, &e404, 10, t0 + Duration::from_millis(i * 500)),
                None
            );
        }
        let again = log
            .failed(0, &e404, 10, t0 + Duration::from_secs(61))
            .unwrap();
        assert!(
            again.contains("100 more failures") && again.contains("1000 spans"),
            "{again}"
        );
        // A different kind, or another exporter, is news.
        let refused = ExportError::new(ExportErrorKind::Connection, "connection refused");
        assert!(
            log.failed(0, &refused, 1, t0 + Duration::from_secs(62))
                .is_some()
        );
        assert!(
            log.failed(1, &e404, 1, t0 + Duration::from_secs(62))
                .is_some()
        );
        // After a recovery, the next failure is reported at once.
        assert!(log.delivered(0).is_some());
        assert!(log.delivered(0).is_none());
        assert!(
            log.failed(0, &e404, 1, t0 + Duration::from_secs(63))
                .is_some()
        );
    }
}
