//! The delivery policy shared by the network exporters: retry only what the OTLP spec calls
//! retryable, honour `Retry-After`, otherwise back off exponentially with jitter, and give up
//! at the deadline (the batch then counts as dropped).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::ExportError;

/// What one attempt gave.
#[derive(Debug)]
pub(crate) enum Attempt {
    Delivered,
    /// Worth another try, after `after` if the server said so.
    Retry {
        after: Option<Duration>,
        why: String,
    },
    /// Never retried (e.g. HTTP 400).
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
    let deadline = Instant::now() + timeout;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ExportError::new("export timed out"));
        }
        let why = match attempt(remaining) {
            Attempt::Delivered => return Ok(()),
            Attempt::Fail(e) => return Err(e),
            Attempt::Retry { after, why } => {
                let wait = after.unwrap_or_else(|| jitter(backoff));
                backoff = (backoff * 2).min(MAX_BACKOFF);
                let remaining = deadline.saturating_duration_since(Instant::now());
                if wait >= remaining {
                    return Err(ExportError::new(format!(
                        "{why}; giving up: the next try would be after the export timeout"
                    )));
                }
                std::thread::sleep(wait);
                why
            }
        };
        let _ = why;
    }
}

/// Full jitter: a uniformly random wait in [backoff / 2, backoff].
fn jitter(backoff: Duration) -> Duration {
    let r = crate::id::random_u64() as f64 / u64::MAX as f64;
    backoff.mul_f64(0.5 + r / 2.0)
}

/// Whether an HTTP status is retryable per the OTLP spec.
pub(crate) fn retryable_http(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (IMF-fixdate).
pub(crate) fn retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = http_date(v)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` → seconds since the epoch.
fn http_date(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = hms.as_slice() else {
        return None;
    };
    // Days from civil (Howard Hinnant's algorithm).
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = (y - era * 400) as u64;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe as i64 - 719_468;
    u64::try_from(days)
        .ok()
        .map(|d| d * 86_400 + h * 3600 + m * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn gives_up_at_the_deadline_and_never_retries_failures() {
        let mut n = 0;
        let r = deliver(Duration::from_millis(300), |_| {
            n += 1;
            Attempt::Retry {
                after: None,
                why: "503".into(),
            }
        });
        assert!(r.is_err());
        assert!((2..=4).contains(&n), "{n} attempts");
        let mut n = 0;
        let r = deliver(Duration::from_secs(5), |_| {
            n += 1;
            Attempt::Fail(ExportError::new("400"))
        });
        assert!(r.is_err());
        assert_eq!(n, 1);
        let mut n = 0;
        assert!(
            deliver(Duration::from_secs(5), |_| {
                n += 1;
                if n < 3 {
                    Attempt::Retry {
                        after: Some(Duration::from_millis(10)),
                        why: "429".into(),
                    }
                } else {
                    Attempt::Delivered
                }
            })
            .is_ok()
        );
        assert_eq!(n, 3);
        assert!(!retryable_http(400) && retryable_http(503) && retryable_http(429));
    }
}
