//! The delivery policy shared by the network exporters: retry only what the OTLP spec calls
//! retryable, honour `Retry-After`, otherwise back off exponentially with jitter, and give up
//! at the deadline (the batch then counts as dropped).

use std::time::{Duration, Instant, SystemTime};

use super::{ExportError, ExportErrorKind};

/// What one attempt gave.
#[derive(Debug)]
pub(crate) enum Attempt {
    Delivered,
    /// Worth another try, after `after` if the server said so.
    Retry {
        after: Option<Duration>,
        why: String,
        /// The failure's kind, for the report if the retries run out.
        kind: ExportErrorKind,
    },
    /// Never retried: the request cannot succeed as it is (HTTP 400, 401, 403, 404, 413, a bad
    /// URL, a TLS failure, an invalid header).
    Fail(ExportError),
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs `attempt` until it delivers, fails for good, or `timeout` passes. `attempt` gets the
/// time it may still take.
pub(crate) fn deliver(
    timeout: Duration,
    mut attempt: impl FnMut(Duration) -> Attempt,
) -> Result<(), ExportError> {
    let start = Instant::now();
    // A timeout too large for the clock means no deadline worth computing.
    let deadline = start
        .checked_add(timeout)
        .unwrap_or_else(|| start + Duration::from_secs(365 * 86_400));
    let mut backoff = FIRST_BACKOFF;
    let mut last: Option<(String, ExportErrorKind)> = None;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(match last {
                Some((why, kind)) => {
                    ExportError::new(kind, format!("{why}; retried until the export timeout"))
                }
                None => ExportError::new(ExportErrorKind::Timeout, "export timed out"),
            });
        }
        match attempt(remaining) {
            Attempt::Delivered => return Ok(()),
            Attempt::Fail(e) => return Err(e),
            Attempt::Retry { after, why, kind } => {
                // A server's `Retry-After: 0` (or a date in the past) still waits the first
                // backoff: a struggling collector is not hammered.
                let wait = after.map_or_else(|| jitter(backoff), |a| a.max(FIRST_BACKOFF));
                backoff = (backoff * 2).min(MAX_BACKOFF);
                let remaining = deadline.saturating_duration_since(Instant::now());
                if wait >= remaining {
                    return Err(ExportError::new(
                        kind,
                        format!("{why}; giving up: the next try would be after the export timeout"),
                    ));
                }
                std::thread::sleep(wait);
                last = Some((why, kind));
            }
        }
    }
}

/// Full jitter: a uniformly random wait in [backoff / 2, backoff].
fn jitter(backoff: Duration) -> Duration {
    let r = crate::id::random_u64() as f64 / u64::MAX as f64;
    backoff.mul_f64(0.5 + r / 2.0)
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (any of the three forms RFC 9110 lets
/// a recipient accept, through the `httpdate` crate). A date in the past is zero.
pub(crate) fn retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let wait = retry_after(&later).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        assert_eq!(retry_after("soon"), None);
        // Values that overflowed hand-written date arithmetic are just not dates.
        for hostile in [
            "Sun, 99999999999999999999 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 9223372036854775807 08:49:37 GMT",
            "Sun, 06 Nov 1994 18446744073709551615:49:37 GMT",
            "18446744073709551616",
        ] {
            assert_eq!(retry_after(hostile), None, "{hostile}");
        }
        assert_eq!(
            retry_after("18446744073709551615"),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn gives_up_at_the_deadline_and_never_retries_failures() {
        let mut n = 0;
        let r = deliver(Duration::from_millis(300), |_| {
            n += 1;
            Attempt::Retry {
                after: None,
                why: "503".into(),
                kind: ExportErrorKind::HttpStatus(503),
            }
        });
        assert!(r.is_err());
        assert!((2..=4).contains(&n), "{n} attempts");
        let mut n = 0;
        let r = deliver(Duration::from_secs(5), |_| {
            n += 1;
            Attempt::Fail(ExportError::new(ExportErrorKind::HttpStatus(400), "400"))
        });
        assert!(r.is_err());
        assert_eq!(n, 1);
        let mut n = 0;
        let started = Instant::now();
        assert!(
            deliver(Duration::from_secs(5), |_| {
                n += 1;
                if n < 3 {
                    Attempt::Retry {
                        after: Some(Duration::ZERO),
                        why: "429".into(),
                        kind: ExportErrorKind::HttpStatus(429),
                    }
                } else {
                    Attempt::Delivered
                }
            })
            .is_ok()
        );
        assert_eq!(n, 3);
        // `Retry-After: 0` still waited the first backoff, twice.
        assert!(started.elapsed() >= FIRST_BACKOFF * 2);
        // A timeout too large for the clock is no panic.
        assert!(deliver(Duration::MAX, |_| Attempt::Delivered).is_ok());
    }
}
