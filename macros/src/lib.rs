//! Attribute macros of traceweave. Use them through the `traceweave` crate, which documents
//! them: `traceweave::traced`.

mod attr;
mod expand;
mod fallback;
mod valid;

use proc_macro::TokenStream;

/// Makes a function a span. See the `traceweave` crate for the options.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced(args.into(), item.into()).into()
}
