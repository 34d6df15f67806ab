//! The crate's errors. Why an export failed: a kind the program can match on (and the failure
//! log groups by), a message for people, and the cause; why a tracer could not be installed.
//! A leaf module: the tracer records export failures and the exporters make them.

use std::fmt;

/// What kind of failure an [`ExportError`] is. The failure log on stderr reports each kind once
/// and then at most once a minute, so a new kind of trouble gets a new line at once; the
/// network exporters retry only the [transient](ExportErrorKind::is_transient) kinds.
///
/// ```
/// use traceweave::ExportErrorKind;
///
/// assert!(ExportErrorKind::HttpStatus(503).is_transient());
/// assert!(!ExportErrorKind::HttpStatus(404).is_transient());
/// assert_eq!(ExportErrorKind::GrpcStatus(14).to_string(), "gRPC UNAVAILABLE");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExportErrorKind {
    /// The destination did not answer within the export timeout.
    Timeout,
    /// The connection could not be made or broke (refused, reset, a name that did not resolve).
    Connection,
    /// The TLS handshake failed (an untrusted or expired certificate, a name mismatch), or the
    /// TLS settings could not be loaded.
    Tls,
    /// The destination answered with this HTTP status.
    HttpStatus(u16),
    /// The destination answered with this gRPC status code (`tonic::Code as i32`).
    GrpcStatus(i32),
    /// The spans could not be encoded.
    Encode,
    /// The exporter is configured so that no request can succeed (an invalid URL or header).
    Configuration,
    /// A local write failed (a file, the console).
    Io,
    /// The exporter panicked; the batch counts as dropped.
    Panicked,
    /// Anything else.
    Other,
}

impl ExportErrorKind {
    /// Whether the same request may succeed later, by the OTLP specification's rules: timeouts,
    /// broken connections, HTTP 429/502/503/504, and the retryable gRPC codes (CANCELLED,
    /// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS).
    ///
    /// ```
    /// use traceweave::ExportErrorKind;
    /// assert!(ExportErrorKind::HttpStatus(429).is_transient()); // too many requests: later
    /// assert!(!ExportErrorKind::Tls.is_transient()); // a bad certificate stays bad
    /// ```
    pub fn is_transient(self) -> bool {
        match self {
            ExportErrorKind::Timeout | ExportErrorKind::Connection | ExportErrorKind::Io => true,
            ExportErrorKind::HttpStatus(s) => matches!(s, 429 | 502 | 503 | 504),
            ExportErrorKind::GrpcStatus(c) => matches!(c, 1 | 4 | 8 | 10 | 11 | 14 | 15),
            ExportErrorKind::Tls
            | ExportErrorKind::Encode
            | ExportErrorKind::Configuration
            | ExportErrorKind::Panicked
            | ExportErrorKind::Other => false,
        }
    }
}

/// gRPC's status code names, by number.
const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

impl fmt::Display for ExportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportErrorKind::Timeout => f.write_str("timeout"),
            ExportErrorKind::Connection => f.write_str("connection"),
            ExportErrorKind::Tls => f.write_str("TLS"),
            ExportErrorKind::HttpStatus(s) => write!(f, "HTTP {s}"),
            ExportErrorKind::GrpcStatus(c) => {
                match usize::try_from(*c).ok().and_then(|i| GRPC_CODES.get(i)) {
                    Some(name) => write!(f, "gRPC {name}"),
                    None => write!(f, "gRPC code {c}"),
                }
            }
            ExportErrorKind::Encode => f.write_str("encoding"),
            ExportErrorKind::Configuration => f.write_str("configuration"),
            ExportErrorKind::Io => f.write_str("I/O"),
            ExportErrorKind::Panicked => f.write_str("panic"),
            ExportErrorKind::Other => f.write_str("other"),
        }
    }
}

/// Why an export failed: its [kind](ExportErrorKind), a message that says what failed and
/// where, and the cause if there is one.
///
/// ```
/// use traceweave::{ExportError, ExportErrorKind};
///
/// let e = ExportError::new(ExportErrorKind::HttpStatus(404), "POST http://collector/v1/trace answered 404");
/// assert_eq!(e.kind(), ExportErrorKind::HttpStatus(404));
/// assert!(!e.is_transient());
/// ```
#[derive(Debug)]
pub struct ExportError {
    kind: ExportErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ExportError {
    /// An error of `kind` with a message.
    ///
    /// ```
    /// use traceweave::{ExportError, ExportErrorKind};
    /// let e = ExportError::new(ExportErrorKind::HttpStatus(503), "POST http://collector:4318/v1/traces: 503");
    /// assert!(e.is_transient());
    /// assert_eq!(e.to_string(), "POST http://collector:4318/v1/traces: 503");
    /// ```
    pub fn new(kind: ExportErrorKind, message: impl Into<String>) -> Self {
        ExportError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An error of `kind` caused by another error; the cause follows the message when shown.
    ///
    /// ```
    /// use traceweave::{ExportError, ExportErrorKind};
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
    /// let e = ExportError::with_source(ExportErrorKind::Connection, "POST http://collector:4318", io);
    /// assert!(std::error::Error::source(&e).is_some());
    /// ```
    pub fn with_source(
        kind: ExportErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ExportError {
            kind,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// What kind of failure this is.
    ///
    /// ```
    /// use traceweave::{ExportError, ExportErrorKind};
    /// let e = ExportError::new(ExportErrorKind::Timeout, "no answer in 10 s");
    /// assert_eq!(e.kind(), ExportErrorKind::Timeout);
    /// ```
    pub fn kind(&self) -> ExportErrorKind {
        self.kind
    }

    /// Whether the same export may succeed later ([`ExportErrorKind::is_transient`]).
    ///
    /// ```
    /// use traceweave::{ExportError, ExportErrorKind};
    /// assert!(!ExportError::new(ExportErrorKind::HttpStatus(400), "bad request").is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The last export failure of a pipeline, as [`SpanStats`](crate::SpanStats) keeps it: its kind
/// and the whole message (cause included).
///
/// ```
/// // An exporter that always fails, to see what the pipeline keeps of it.
/// #[derive(Debug)]
/// struct Down;
/// impl traceweave::Exporter for Down {
///     fn export(&mut self, _: traceweave::SpanBatch<'_>, _: &traceweave::Resource) -> Result<(), traceweave::ExportError> {
///         Err(traceweave::ExportError::new(traceweave::ExportErrorKind::Connection, "collector down"))
///     }
/// }
/// let tracer = traceweave::builder().ignore_env().exporter(Down).build();
/// tracer.in_scope(|| traceweave::span("work").start().end());
/// let _ = tracer.force_flush();
/// let failure = tracer.stats().last_export_error.expect("recorded");
/// assert_eq!(failure.kind, traceweave::ExportErrorKind::Connection);
/// assert!(failure.message.contains("collector down"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFailure {
    /// What kind of failure it was.
    pub kind: ExportErrorKind,
    /// What failed, where and why, as printed on stderr.
    pub message: String,
}

impl From<&ExportError> for ExportFailure {
    fn from(e: &ExportError) -> Self {
        ExportFailure {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl fmt::Display for ExportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why `install` failed.
///
/// ```
/// let guard = traceweave::builder().ignore_env().install()?;
/// // A second pipeline is refused; the first stays.
/// assert_eq!(
///     traceweave::builder().ignore_env().install().unwrap_err(),
///     traceweave::InitError::AlreadyInitialised
/// );
/// drop(guard);
/// # Ok::<(), traceweave::InitError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// A global tracer is installed already; shut it down first.
    AlreadyInitialised,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::AlreadyInitialised => f.write_str(
                "tracing is already initialised; the earlier init() stays in effect \
                 (call traceweave::shutdown() first to replace it)",
            ),
        }
    }
}

impl std::error::Error for InitError {}

/// Why a flush or a shutdown did not deliver everything it waited for.
///
/// ```
/// use std::time::Duration;
///
/// let tracer = traceweave::builder().ignore_env().build();
/// tracer.in_scope(|| traceweave::span("work").start().end());
/// tracer.force_flush()?;
/// tracer.shutdown_with_timeout(Duration::from_secs(5))?;
/// # Ok::<(), traceweave::FlushError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlushError {
    /// The collector did not finish in time (the exporters are slow, or the collector is busy
    /// with a long drain). What a shutdown left queued then is counted as dropped
    /// ([`SpanStats::dropped_shutdown`](crate::SpanStats::dropped_shutdown)).
    Timeout(std::time::Duration),
    /// No collector of this tracer runs in this process: it has been shut down (a flush after
    /// shutdown), or this is a child made by `fork()`, whose spans go to the child's own
    /// pipeline.
    NotRunning,
    /// The collector thread ended in a panic of its own (an exporter's panic is caught and
    /// counted as a failed export; this is not that).
    CollectorPanicked,
}

impl fmt::Display for FlushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlushError::Timeout(t) => write!(
                f,
                "the collector did not finish within {} ms; what was still queued at a \
                 shutdown's deadline is counted as dropped",
                t.as_millis()
            ),
            FlushError::NotRunning => f.write_str(
                "the tracer's collector does not run in this process (shut down, or a forked \
                 child)",
            ),
            FlushError::CollectorPanicked => f.write_str("the collector thread panicked"),
        }
    }
}

impl std::error::Error for FlushError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_as_the_failure_log_shows_them() {
        assert_eq!(ExportErrorKind::HttpStatus(413).to_string(), "HTTP 413");
        assert_eq!(
            ExportErrorKind::GrpcStatus(16).to_string(),
            "gRPC UNAUTHENTICATED"
        );
        assert_eq!(ExportErrorKind::GrpcStatus(99).to_string(), "gRPC code 99");
        assert_eq!(ExportErrorKind::GrpcStatus(-1).to_string(), "gRPC code -1");
        assert_eq!(ExportErrorKind::Tls.to_string(), "TLS");
    }

    #[test]
    fn transient_kinds_follow_the_otlp_retry_rules() {
        for s in [429, 502, 503, 504] {
            assert!(ExportErrorKind::HttpStatus(s).is_transient(), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 500] {
            assert!(!ExportErrorKind::HttpStatus(s).is_transient(), "{s}");
        }
        assert!(ExportErrorKind::GrpcStatus(14).is_transient());
        assert!(!ExportErrorKind::GrpcStatus(3).is_transient());
        assert!(!ExportErrorKind::Tls.is_transient());
        assert!(ExportErrorKind::Connection.is_transient());
    }

    #[test]
    fn the_cause_follows_the_message() {
        let io = std::io::Error::other("disk full");
        let e = ExportError::with_source(ExportErrorKind::Io, "could not write spans.jsonl", io);
        assert_eq!(e.to_string(), "could not write spans.jsonl: disk full");
        assert!(std::error::Error::source(&e).is_some());
    }
}
