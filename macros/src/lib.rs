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
///
/// # Examples
///
/// Each example runs as a test: `traceweave::testing::capture` returns the spans its closure
/// produced, and `tree()` prints them as `name [kind] STATUS attributes`.
///
/// A child of whatever span is current, ended on every way out; an `Err` fails it:
///
/// ```
/// use traceweave::traced;
///
/// #[traced]
/// fn load(id: u32) -> Result<String, String> {
///     Err(format!("no row {id}"))
/// }
///
/// #[traced]
/// fn handle() {
///     let _ = load(7);
/// }
///
/// let spans = traceweave::testing::capture(handle);
/// assert_eq!(spans.tree(), "└─ handle\n   └─ load ERROR no row 7\n");
/// ```
///
/// `name` and `kind`, for a span that stands for a remote call or a request:
///
/// ```
/// # use traceweave::traced;
/// #[traced(name = "SELECT orders", kind = client)]
/// fn query() {}
///
/// let spans = traceweave::testing::capture(query);
/// assert_eq!(spans.tree(), "└─ SELECT orders [client]\n");
/// ```
///
/// `args` records the parameters it names — as values (integers, floats, booleans, strings),
/// with `%` through `Display`, with `?` through `Debug`; the others stay out of the trace:
///
/// ```
/// # use traceweave::traced;
/// #[derive(Debug)]
/// struct Cart {
///     items: Vec<&'static str>,
/// }
///
/// #[traced(args(user_id, %order, ?cart))]
/// fn checkout(user_id: u64, order: std::net::Ipv4Addr, cart: &Cart, password: &str) {}
///
/// let cart = Cart { items: vec!["tea"] };
/// let spans = traceweave::testing::capture(|| {
///     checkout(7, [10, 0, 0, 1].into(), &cart, "hunter2")
/// });
/// assert_eq!(
///     spans.tree(),
///     "└─ checkout user_id=7 order=\"10.0.0.1\" cart=\"Cart { items: [\\\"tea\\\"] }\"\n"
/// );
/// assert!(!format!("{:?}", spans.0).contains("hunter2"));
/// ```
///
/// `attrs` records expressions under names of your choice (dotted names as the semantic
/// conventions spell them), evaluated before the body runs; `ret` records the return value:
///
/// ```
/// # use traceweave::traced;
/// #[traced(attrs(db.system = "postgresql", cart.items = items.len()), ret)]
/// fn reserve(items: &[u32]) -> usize {
///     items.len() * 2
/// }
///
/// let spans = traceweave::testing::capture(|| {
///     reserve(&[1, 2, 3]);
/// });
/// assert_eq!(
///     spans.tree(),
///     "└─ reserve db.system=\"postgresql\" cart.items=3 return=\"6\"\n"
/// );
/// ```
///
/// `root` starts a new trace whatever is current; `parent` names the parent instead of the
/// current context (here one read from a `traceparent` header):
///
/// ```
/// # use traceweave::traced;
/// use std::collections::HashMap;
///
/// #[traced(root)]
/// fn nightly_job() {}
///
/// #[traced(parent = parent)]
/// fn on_message(parent: &traceweave::Context) {}
///
/// let headers = HashMap::from([(
///     "traceparent".to_owned(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
/// )]);
/// let spans = traceweave::testing::capture(|| {
///     let _outer = traceweave::span("outer").start().enter();
///     nightly_job();
///     on_message(&traceweave::propagation::extract(&headers));
/// });
/// let job = spans.named("nightly_job").unwrap();
/// assert!(!job.parent_span_id.is_valid(), "a root");
/// let message = spans.named("on_message").unwrap();
/// assert_eq!(
///     message.trace_id.to_string(),
///     "4bf92f3577b34da6a3ce929d0e0e4736",
///     "the caller's trace"
/// );
/// ```
///
/// An async fn's span covers its whole run, across `.await`s, as a child of the span current
/// where it is first polled; so does a fn returning `impl Future`, and with `future` one
/// returning a boxed future under another name:
///
/// ```
/// # use traceweave::traced;
/// use std::future::Future;
/// use std::pin::Pin;
///
/// type Job = Pin<Box<dyn Future<Output = u32> + Send>>;
///
/// #[traced]
/// async fn fetch() -> u32 {
///     41
/// }
///
/// #[traced(future)]
/// fn job() -> Job {
///     Box::pin(async { fetch().await + 1 })
/// }
///
/// # fn block_on<F: Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop {
/// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
/// #             return v;
/// #         }
/// #     }
/// # }
/// let spans = traceweave::testing::capture(|| assert_eq!(block_on(job()), 42));
/// assert_eq!(spans.tree(), "└─ job\n   └─ fetch\n");
/// ```
///
/// `crate` names the path to traceweave when a crate re-exports it under another name:
///
/// ```
/// mod platform {
///     pub use traceweave as tracing_kit;
/// }
///
/// #[traceweave::traced(crate = platform::tracing_kit)]
/// fn step() {}
///
/// assert_eq!(traceweave::testing::capture(step).tree(), "└─ step\n");
/// ```
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
///
/// # Examples
///
/// A handler whose caller sent a W3C `traceparent`: its span continues the caller's trace.
/// Any `traceweave::Extractor` is a carrier; with the `http`, `tonic`, `amqp` or
/// `nats` features the framework's own request and message types are found by type.
///
/// ```
/// use std::collections::HashMap;
/// use traceweave::traced_rpc;
///
/// #[traced_rpc(carrier = headers, name = "GET /orders/{id}", args(id))]
/// fn get_order(id: u64, headers: &HashMap<String, String>) -> Result<String, String> {
///     Ok(format!("order {id}"))
/// }
///
/// let headers = HashMap::from([(
///     "traceparent".to_owned(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
/// )]);
/// let spans = traceweave::testing::capture(|| {
///     get_order(42, &headers).unwrap();
/// });
/// let span = spans.named("GET /orders/{id}").unwrap();
/// assert_eq!(span.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
/// assert!(span.parent_is_remote);
/// assert_eq!(
///     spans.tree(),
///     "└─ GET /orders/{id} [server] (remote parent 00f067aa0ba902b7) id=42\n"
/// );
/// ```
///
/// A message consumer: `consumer` continues the producer's trace; `consumer, link` starts a
/// new trace linked to it (for batch and fan-in consumers whose work outlives the sender's):
///
/// ```
/// use std::collections::HashMap;
/// use traceweave::traced_rpc;
///
/// #[traced_rpc(consumer, carrier = headers)]
/// fn on_order(headers: &HashMap<String, String>) {}
///
/// #[traced_rpc(consumer, link, carrier = headers)]
/// fn on_batch(headers: &HashMap<String, String>) {}
///
/// let headers = HashMap::from([(
///     "traceparent".to_owned(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
/// )]);
/// let spans = traceweave::testing::capture(|| {
///     on_order(&headers);
///     on_batch(&headers);
/// });
/// let order = spans.named("on_order").unwrap();
/// assert_eq!(order.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// let batch = spans.named("on_batch").unwrap();
/// assert_ne!(batch.trace_id, order.trace_id, "a trace of its own");
/// assert_eq!(batch.links[0].trace_id, order.trace_id, "linked to the producer");
/// ```
///
/// A header that does not parse starts a new trace; the handler runs as before.
///
/// ```
/// # use std::collections::HashMap;
/// # use traceweave::traced_rpc;
/// #[traced_rpc(carrier = headers)]
/// fn handle(headers: &HashMap<String, String>) {}
///
/// let bad = HashMap::from([("traceparent".to_owned(), "00-zz-junk".to_owned())]);
/// let spans = traceweave::testing::capture(|| handle(&bad));
/// assert!(!spans.named("handle").unwrap().parent_span_id.is_valid());
/// ```
#[proc_macro_attribute]
pub fn traced_rpc(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced(attr::Macro::TracedRpc, args.into(), item.into()).into()
}
