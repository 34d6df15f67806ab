//! HTTP (the `http` crate's types, so axum, hyper, tower, reqwest and tonic-web alike):
//! header carriers, what `#[traced_rpc]` reads from an `http::Request`, how a handler's
//! response marks its span, and tower layers that trace every request of a server
//! ([`ServerLayer`]) or a client ([`ClientLayer`]).
//!
//! Laid out as tower-http's `trace` module is: `carrier` (headers as propagation carriers),
//! `classify` (how a response marks its span), `layer` (the two layers), `service`, `future` and
//! `body` (what the layers return), `attributes` (the semantic conventions).

mod attributes;
mod body;
mod carrier;
mod classify;
mod future;
mod layer;
mod service;

pub use body::TracedBody;
pub use classify::ResponseClassifier;
pub use future::ResponseFuture;
pub use layer::{ClientLayer, ClientService, ServerLayer, ServerService};
pub use service::{MakeSpan, TracedService};

// What the reqwest middleware and the gRPC layers share with these layers.
#[cfg(any(feature = "reqwest", feature = "tonic"))]
pub(crate) use attributes::record_server;
#[cfg(feature = "reqwest")]
pub(crate) use attributes::{Method, protocol_version};
#[cfg(feature = "reqwest")]
pub(crate) use layer::client_span;
#[cfg(any(feature = "reqwest", feature = "tonic"))]
pub(crate) use layer::sw8_address;
#[cfg(feature = "tonic")]
pub(crate) use service::sealed;
