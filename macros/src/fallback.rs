//! On error: the error, plus the user's item unchanged, so one mistake does not cascade into
//! errors about the function's callers.

use proc_macro2::TokenStream;
use quote::quote;

pub fn expand(error: syn::Error, item: TokenStream) -> TokenStream {
    let error = error.to_compile_error();
    quote! {
        #error
        #item
    }
}
