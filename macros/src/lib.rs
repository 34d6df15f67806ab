//! Attribute macros of traceweave. Use them through the `traceweave` crate
//! (`traceweave::traced`), which re-exports them and provides the runtime they expand to.

#![deny(missing_docs)]

mod attr;
mod expand;
mod fallback;
mod plan;
mod shapes;
mod valid;

use proc_macro::TokenStream;

/// Makes a function a span: a child of the current context, started before the body and ended
/// on every way out (return, `?`, panic, a future dropped before completion).
///
/// Works on sync and async fns, methods (`self`, `&self`, `&mut self`, `self: Box<Self>`, a
/// borrow returned through `&mut self`), generics, lifetimes, where clauses, `unsafe` and
/// `extern` fns, inner attributes, fns returning `impl Future`, `impl Iterator + '_`,
/// `Pin<Box<dyn Future>>` or `BoxFuture` / `LocalBoxFuture`, async fns in traits and
/// `#[async_trait]` methods. Other attributes are kept. An `Err` result marks the span failed
/// with the error's `Display` text (or `Debug`), for any `Result` alias; a panic marks it
/// `panicked`; a dropped future gets `cancelled = true`.
///
/// An async fn's span starts at its first poll, as a child of the context current there; a
/// future dropped before its first poll (the losing branch of a `select!`) still records a
/// span, marked cancelled. (Under an attribute that runs the fn itself, `#[tokio::main]` or
/// `#[tokio::test]`, the fn stays `async` and has no span when it is never polled.)
///
/// Options (each at most once):
///
/// ```text
/// #[traced(
///     name = "checkout",                  // span name; default: the fn's name
///     kind = server,                      // internal (default), server, client, producer, consumer
///     args(user_id, %order, ?cart),       // record these parameters: value, Display, Debug
///     attrs(db.system = "postgresql", cart.items = cart.len(), note = %msg),
///     ret,                                // record the return value (Debug)
///     root,                               // start a new trace
///     parent = ctx,                       // or: this Context is the parent
///     future,                             // the return type is a boxed future under another
///                                         // name (an alias of Pin<Box<dyn Future>>): the span
///                                         // covers the future, not just its construction
///     crate = my_reexport::traceweave,    // path to traceweave for re-exporters
/// )]
/// ```
///
/// Nothing about the arguments is recorded unless `args` or `attrs` names it.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced(attr::Macro::Traced, args.into(), item.into()).into()
}

/// Makes a server handler or message consumer a span whose parent is read from the incoming
/// request: a `server` span (default) or a `consumer` span.
///
/// The carrier is found among the parameters by type: `http::Request<B>` (axum's `Request`),
/// `http::HeaderMap` (owned or by reference), `tonic::Request<T>`, lapin's `Delivery` or
/// `BasicProperties`, `async_nats::Message`; or named with `carrier = expr` (anything that
/// implements `traceweave::Extractor`). The semantic-convention attributes the request
/// reveals are recorded (`rpc.system`, `rpc.service`, `rpc.method`, `http.request.method`,
/// `url.path`, `messaging.system`, `messaging.destination.name`); an `Err` (a tonic `Status`
/// included) or an HTTP 5xx response marks the span failed.
///
/// ```text
/// #[traced_rpc]                            // server span, parent from the request headers
/// #[traced_rpc(consumer)]                  // consumer span, parent from the message headers
/// #[traced_rpc(consumer, link)]            // consumer span in a new trace, linked to the producer
/// #[traced_rpc(carrier = msg.headers)]     // explicit carrier
/// #[traced_rpc(name = "GET /orders", args(id), attrs(..), ret, crate = path)]
/// ```
#[proc_macro_attribute]
pub fn traced_rpc(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced(attr::Macro::TracedRpc, args.into(), item.into()).into()
}
