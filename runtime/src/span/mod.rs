//! The span model: what a finished span carries to the exporters, and the live span API.

mod active;
pub(crate) mod clock;
mod current;
pub(crate) mod inbox;
mod limits;
pub(crate) mod raw;
mod resource;
mod value;
mod view;

use std::borrow::Cow;
use std::fmt;

use crate::context::TraceState;
use crate::id::{SpanId, TraceFlags, TraceId};

pub(crate) use active::Parent;
pub use active::{EnteredSpan, Span};
pub use current::{CurrentSpan, current_span};
#[cfg(feature = "tracing")]
pub(crate) use limits::format_bounded;
pub use limits::{FORMATTED_VALUE_CAP, SpanLimits};
pub use resource::Resource;
pub use value::{Array, Key, KeyValue, ToValue, Value};
pub use view::{AttributeIter, SpanBatch, SpanBatchIter, SpanView, StatusRef, ValueRef};

/// What role a span plays in a trace (OpenTelemetry's span kinds; SkyWalking's Entry, Exit and
/// Local map to server, client and internal).
///
/// ```
/// use traceweave::SpanKind;
/// let spans = traceweave::testing::capture(|| {
///     traceweave::span("GET /orders").kind(SpanKind::Server).start().end();
/// });
/// assert_eq!(spans.0[0].kind, SpanKind::Server);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum SpanKind {
    /// Work inside one process.
    #[default]
    Internal,
    /// Handling a request from a remote client.
    Server,
    /// A request to a remote service.
    Client,
    /// Sending a message that a consumer handles later.
    Producer,
    /// Handling a message sent by a producer.
    Consumer,
}

impl SpanKind {
    /// The lowercase name, as `#[traced(kind = ...)]` spells it.
    ///
    /// ```
    /// use traceweave::SpanKind;
    /// assert_eq!(SpanKind::Consumer.as_str(), "consumer");
    /// assert_eq!(SpanKind::default().to_string(), "internal");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

impl fmt::Display for SpanKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of a span.
///
/// ```
/// use traceweave::Status;
/// let spans = traceweave::testing::capture(|| {
///     traceweave::span("ok").start().set_status(Status::Ok);
///     traceweave::span("failed").start().set_status(Status::error("timeout"));
/// });
/// assert_eq!(spans.named("ok").unwrap().status, Status::Ok);
/// assert!(spans.named("failed").unwrap().status.is_error());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Status {
    /// Nothing was said: the default.
    #[default]
    Unset,
    /// The operation was explicitly marked successful.
    Ok,
    /// The operation failed.
    Error {
        /// What went wrong, for people.
        message: Cow<'static, str>,
    },
}

impl Status {
    /// An error status with a message.
    ///
    /// ```
    /// use traceweave::Status;
    /// let status = Status::error(format!("HTTP {}", 503));
    /// assert_eq!(status, Status::Error { message: "HTTP 503".into() });
    /// ```
    pub fn error(message: impl Into<Cow<'static, str>>) -> Self {
        Status::Error {
            message: message.into(),
        }
    }

    /// Whether this is an error.
    ///
    /// ```
    /// use traceweave::Status;
    /// assert!(Status::error("timeout").is_error());
    /// assert!(!Status::Ok.is_error() && !Status::Unset.is_error());
    /// ```
    pub fn is_error(&self) -> bool {
        matches!(self, Status::Error { .. })
    }
}

/// Something that happened at one instant during a span.
///
/// ```
/// use traceweave::KeyValue;
/// let spans = traceweave::testing::capture(|| {
///     traceweave::span("charge").start().add_event("retry", vec![KeyValue::new("attempt", 2)]);
/// });
/// let event = &spans.0[0].events[0];
/// assert_eq!(event.name, "retry");
/// assert!(event.time_unix_nano >= spans.0[0].start_time_unix_nano);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// What happened.
    pub name: Cow<'static, str>,
    /// When, in nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Details.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped for the per-event count limit.
    pub dropped_attributes_count: u32,
}

/// A reference from one span to another span, possibly of another trace (e.g. a consumer
/// linking to the producer of a batch).
///
/// ```
/// use traceweave::{SpanContext, SpanId, TraceFlags, TraceId};
/// let producer = SpanContext::new(TraceId::from_u128(3), SpanId::from_u64(4), TraceFlags::SAMPLED, true);
/// let spans = traceweave::testing::capture(|| {
///     traceweave::span("consume").link(producer, vec![]).start().end();
/// });
/// let link = &spans.0[0].links[0];
/// assert_eq!((link.trace_id, link.span_id, link.is_remote), (producer.trace_id(), producer.span_id(), true));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// The linked span's trace.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
    /// The linked span's flags.
    pub trace_flags: TraceFlags,
    /// Whether the linked span lives in another process.
    pub is_remote: bool,
    /// Details of the link.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped for the per-link count limit.
    pub dropped_attributes_count: u32,
}

/// A finished span's attributes. (Live spans keep primitive attributes inline; this vector is
/// built on the collector thread.)
///
/// ```
/// use traceweave::{Attributes, KeyValue};
/// let attributes: Attributes = vec![KeyValue::new("db.system", "postgresql"), KeyValue::new("rows", 3)];
/// assert_eq!(attributes.len(), 2);
/// ```
pub type Attributes = Vec<KeyValue>;

/// A finished span as exporters receive it.
///
/// ```
/// let spans = traceweave::testing::capture(|| {
///     traceweave::span("GET /orders").attribute("http.route", "/orders").start().end();
/// });
/// let record: &traceweave::SpanRecord = &spans.0[0];
/// assert_eq!(record.name, "GET /orders");
/// assert!(record.trace_id.is_valid() && record.is_root());
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SpanRecord {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// This span.
    pub span_id: SpanId,
    /// The parent span, or [`SpanId::INVALID`] for a root.
    pub parent_span_id: SpanId,
    /// Whether the parent lives in another process (extracted from a carrier).
    pub parent_is_remote: bool,
    /// The W3C flags of this span.
    pub trace_flags: TraceFlags,
    /// Vendor state carried with the trace.
    pub trace_state: TraceState,
    /// The operation's name.
    pub name: Cow<'static, str>,
    /// The span's role.
    pub kind: SpanKind,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End, in nanoseconds since the Unix epoch.
    pub end_time_unix_nano: u64,
    /// Typed attributes.
    pub attributes: Attributes,
    /// Timestamped events.
    pub events: Vec<Event>,
    /// Links to other spans.
    pub links: Vec<Link>,
    /// The outcome.
    pub status: Status,
    /// Attributes dropped for the count limit.
    pub dropped_attributes_count: u32,
    /// Events dropped for the count limit.
    pub dropped_events_count: u32,
    /// Links dropped for the count limit.
    pub dropped_links_count: u32,
    /// The trace id as a SkyWalking agent spelled it, when it is not our hex form.
    pub(crate) sw8_trace_id: Option<std::sync::Arc<str>>,
    /// The extracted `sw8` this span continues, when its remote parent came in one.
    pub(crate) sw8_parent: Option<std::sync::Arc<crate::context::Sw8Parent>>,
}

impl SpanRecord {
    /// The duration in nanoseconds (0 if the clock went backwards).
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let span = traceweave::span("sleep").start();
    ///     std::thread::sleep(std::time::Duration::from_millis(2));
    ///     span.end();
    /// });
    /// assert!(spans.0[0].duration_nanos() >= 2_000_000);
    /// ```
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano
            .saturating_sub(self.start_time_unix_nano)
    }

    /// The value of the attribute with this key.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     traceweave::span("query").attribute("rows", 3).start().end();
    /// });
    /// assert_eq!(spans.0[0].attribute("rows"), Some(&traceweave::Value::I64(3)));
    /// assert_eq!(spans.0[0].attribute("missing"), None);
    /// ```
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// Whether this span has no parent in this trace.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     let _outer = traceweave::span("outer").start().entered();
    ///     traceweave::span("inner").start().end();
    /// });
    /// assert!(spans.named("outer").unwrap().is_root());
    /// assert!(!spans.named("inner").unwrap().is_root());
    /// ```
    pub fn is_root(&self) -> bool {
        !self.parent_span_id.is_valid()
    }
}
