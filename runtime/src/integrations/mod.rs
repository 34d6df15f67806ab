//! Layers and helpers for one ecosystem each.

#[cfg(feature = "tonic")]
pub mod tonic;

#[cfg(feature = "opentelemetry")]
pub mod opentelemetry;
