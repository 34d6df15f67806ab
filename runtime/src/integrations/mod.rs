//! Layers and helpers for one ecosystem each.

#[cfg(feature = "tonic")]
pub mod tonic;

#[cfg(feature = "opentelemetry-api")]
pub mod opentelemetry;

#[cfg(feature = "tracing")]
pub mod tracing;

#[cfg(feature = "log")]
pub mod log;
