//! One module per ecosystem: its carriers, what `#[traced_rpc]` reads from its requests, and
//! its layers and helpers. Adding an ecosystem touches one file here.

#[cfg(feature = "http")]
pub mod http;

#[cfg(feature = "tonic")]
pub mod tonic;

#[cfg(feature = "amqp")]
pub mod amqp;

#[cfg(feature = "nats")]
pub mod nats;

#[cfg(feature = "opentelemetry-api")]
pub mod opentelemetry;

#[cfg(feature = "tracing")]
pub mod tracing;

#[cfg(feature = "log")]
pub mod log;
