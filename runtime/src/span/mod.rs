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
    pub fn error(message: impl Into<Cow<'static, str>>) -> Self {
        Status::Error {
            message: message.into(),
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        matches!(self, Status::Error { .. })
    }
}

/// Something that happened at one instant during a span.
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
pub type Attributes = Vec<KeyValue>;

/// A finished span as exporters receive it.
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
}

impl SpanRecord {
    /// The duration in nanoseconds (0 if the clock went backwards).
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano
            .saturating_sub(self.start_time_unix_nano)
    }

    /// The value of the attribute with this key.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// Whether this span has no parent in this trace.
    pub fn is_root(&self) -> bool {
        !self.parent_span_id.is_valid()
    }
}
