//! Spans as OTLP request bodies, written straight from the collector's buffer: protobuf for
//! the OTLP/HTTP exporter, OTLP/JSON for it and for the file exporter; and the official
//! generated types (`official`), which the gRPC exporter sends and the tests hold the written
//! bytes against.

pub(crate) mod json;
#[cfg(any(test, feature = "otlp-grpc"))]
pub(crate) mod official;
#[cfg(any(test, feature = "otlp-http"))]
pub(crate) mod protobuf;

#[cfg(feature = "otlp-http")]
pub(crate) use protobuf::ProtobufWriter;

use crate::span::SpanKind;

/// `Span.flags`: the context's is-remote bit is known.
const HAS_IS_REMOTE: u32 = 0x100;
/// `Span.flags`: the parent (or link target) is remote.
const IS_REMOTE: u32 = 0x200;

/// The `Span.flags` of a context: the W3C bits we know (sampled, random) and whether the
/// parent (or link target) is remote.
pub(crate) fn flags(trace_flags: u8, remote: bool) -> u32 {
    u32::from(trace_flags & 0x03) | HAS_IS_REMOTE | if remote { IS_REMOTE } else { 0 }
}

/// `Span.kind` (`SPAN_KIND_INTERNAL` = 1 ...).
pub(crate) fn kind(k: SpanKind) -> i32 {
    match k {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}
