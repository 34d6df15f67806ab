//! traceweave-view: a local trace viewer.
//!
//! - [`server`]: receives OTLP/HTTP (`POST /v1/traces`, protobuf or JSON, gzip or not) from
//!   any OpenTelemetry exporter, stores the spans in SQLite ([`store`]) and serves the web UI
//!   (trace list, waterfall, service map, comparison) with its JSON API;
//! - [`report`]: the same UI as one self-contained HTML file, from OTLP-JSON lines or Zipkin
//!   v2 JSON files;
//! - [`tree`]: a trace as a text tree, services named, for terminals.
//!
//! The binary `traceweave-view` wraps these; the shop demo embeds them.

#![deny(missing_docs)]

pub mod decode;
pub mod model;
pub mod report;
pub mod server;
pub mod store;
pub mod tree;
mod ui;

pub use model::{IngestLimits, SpanRow};
pub use store::{Query, Retention, Store, StoreError};
