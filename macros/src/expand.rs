//! Writing the instrumented function: parse the item, validate the options against it, lower
//! them once into a [`SpanPlan`], and let the function's [`Shape`] arrange the body.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Attribute, Block, Item, ItemFn, Signature};

use crate::attr::{Macro, Options};
use crate::plan::SpanPlan;
use crate::shapes::Shape;
use crate::{fallback, valid};

pub fn traced(which: Macro, args: TokenStream, item: TokenStream) -> TokenStream {
    match try_traced(which, args, item.clone()) {
        Ok(tokens) => tokens,
        Err(e) => fallback::expand(e, item),
    }
}

fn try_traced(which: Macro, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let opts = Options::parse_for(which, args)?;
    let func = parse_fn(which, item)?;
    let carrier = valid::validate(which, &opts, &func.sig)?;
    let plan = SpanPlan::lower(&opts, &func.sig.ident, carrier.as_ref());
    let mut sig = func.sig.clone();
    let body = Shape::of(&func, &opts).body(&plan, &func, &mut sig);
    let Func {
        attrs, inner, vis, ..
    } = &func;
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #(#inner)*
            #body
        }
    })
}

/// The annotated function, split where the expansion needs it.
pub struct Func {
    /// Outer attributes, kept on the function.
    pub attrs: Vec<Attribute>,
    /// Inner attributes (`#![...]` at the top of the body), kept at the top of the new body.
    pub inner: Vec<Attribute>,
    pub vis: syn::Visibility,
    pub sig: Signature,
    /// The body, when it parses; otherwise only `raw` is known.
    pub block: Option<Block>,
    /// The body's tokens, braces included.
    pub raw: TokenStream,
}

/// A function whose body does not parse: its signature, and the body as the user wrote it,
/// so the compiler reports the user's own syntax error (and only that one).
struct UnparsedFn {
    attrs: Vec<Attribute>,
    vis: syn::Visibility,
    sig: Signature,
    body: proc_macro2::Group,
}

impl syn::parse::Parse for UnparsedFn {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let body: proc_macro2::Group = input.parse()?;
        if body.delimiter() != proc_macro2::Delimiter::Brace || !input.is_empty() {
            return Err(input.error("expected a function body"));
        }
        Ok(UnparsedFn {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

/// Accepts free functions, methods and trait methods with a body; anything else gets an error
/// on the item's own keyword.
fn parse_fn(which: Macro, item: TokenStream) -> syn::Result<Func> {
    if let Ok(func) = syn::parse2::<ItemFn>(item.clone()) {
        let (inner, attrs) = func
            .attrs
            .into_iter()
            .partition(|a| matches!(a.style, syn::AttrStyle::Inner(_)));
        return Ok(Func {
            attrs,
            inner,
            vis: func.vis,
            sig: func.sig,
            raw: func.block.to_token_stream(),
            block: Some(*func.block),
        });
    }
    if let Ok(method) = syn::parse2::<syn::TraitItemFn>(item.clone())
        && method.default.is_none()
    {
        return Err(syn::Error::new_spanned(
            &method.sig,
            "#[traced] needs a function body; put it on the implementation of this method",
        ));
    }
    if let Ok(func) = syn::parse2::<UnparsedFn>(item.clone()) {
        return Ok(Func {
            attrs: func.attrs,
            inner: Vec::new(),
            vis: func.vis,
            sig: func.sig,
            block: None,
            raw: func.body.into_token_stream(),
        });
    }
    let parsed: Item = syn::parse2(item)?;
    let (what, tokens): (&str, TokenStream) = match &parsed {
        Item::Struct(i) => ("a struct", i.struct_token.to_token_stream()),
        Item::Enum(i) => ("an enum", i.enum_token.to_token_stream()),
        Item::Union(i) => ("a union", i.union_token.to_token_stream()),
        Item::Const(i) => ("a const", i.const_token.to_token_stream()),
        Item::Static(i) => ("a static", i.static_token.to_token_stream()),
        Item::Mod(i) => ("a module", i.mod_token.to_token_stream()),
        Item::Impl(i) => ("an impl block", i.impl_token.to_token_stream()),
        Item::Trait(i) => ("a trait", i.trait_token.to_token_stream()),
        Item::Type(i) => ("a type alias", i.type_token.to_token_stream()),
        Item::Use(i) => ("a use declaration", i.use_token.to_token_stream()),
        Item::ForeignMod(i) => ("an extern block", i.abi.to_token_stream()),
        Item::Macro(i) => ("a macro invocation", i.mac.path.to_token_stream()),
        other => ("this item", other.to_token_stream()),
    };
    Err(syn::Error::new_spanned(
        tokens,
        format!(
            "{} applies to functions and methods, not to {what}",
            which.name()
        ),
    ))
}
