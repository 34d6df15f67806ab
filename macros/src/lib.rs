//! Attribute macros of traceweave. Use them through the `traceweave` crate
//! (`traceweave::traced`), which re-exports them and provides the runtime they expand to.

mod attr;
mod expand;
mod fallback;
mod valid;

use proc_macro::TokenStream;

/// Makes a function a span: a child of the current context, started before the body and ended
/// on every way out (return, `?`, panic, a future dropped before completion).
///
/// Works on sync and async fns, methods (`self`, `&self`, `&mut self`, `self: Box<Self>`),
/// generics, lifetimes, where clauses, `unsafe` and `extern` fns, fns returning
/// `impl Future` or `Pin<Box<dyn Future>>`, and `#[async_trait]` methods. Other attributes are
/// kept. An `Err` result marks the span failed with the error's `Display` text (or `Debug`),
/// for any `Result` alias; a panic marks it `panicked`; a dropped future gets
/// `cancelled = true`.
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
///     crate = my_reexport::traceweave,    // path to traceweave for re-exporters
/// )]
/// ```
///
/// Nothing about the arguments is recorded unless `args` or `attrs` names it.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced(args.into(), item.into()).into()
}
