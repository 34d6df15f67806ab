//! Writing the instrumented function.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Attribute, Block, Expr, Item, ItemFn, ReturnType, Signature, Stmt, Type};

use crate::attr::{Kind, Macro, Mode, Options};
use crate::valid::Carrier;
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
    Ok(expand(&opts, func, carrier))
}

/// The annotated function, split where the expansion needs it.
struct Func {
    /// Outer attributes, kept on the function.
    attrs: Vec<Attribute>,
    /// Inner attributes (`#![...]` at the top of the body), kept at the top of the new body.
    inner: Vec<Attribute>,
    vis: syn::Visibility,
    sig: Signature,
    /// The body, when it parses; otherwise only `raw` is known.
    block: Option<Block>,
    /// The body's tokens, braces included.
    raw: TokenStream,
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

/// What the function returns, which decides how the span wraps it.
enum Shape<'a> {
    Sync,
    /// An async fn, made a fn returning `impl Future` (`Unpolled`) so a future dropped before
    /// its first poll still records a cancelled span; otherwise the span starts at the first
    /// poll, as in an async fn.
    AsyncFn,
    /// An async fn that another attribute runs (`#[tokio::main]`): stays `async`, and the span
    /// starts at the first poll.
    AsyncFnKept,
    /// `-> impl Future<...>`: the span covers the returned future.
    ImplFuture,
    /// `-> Pin<Box<dyn Future<...>>>` (or an alias) whose body ends in
    /// `Box::pin(async move {..})`: what `#[async_trait]` generates.
    BoxedAsyncBlock(&'a syn::ExprCall),
    /// `-> Pin<Box<dyn Future<...>>>` (or `BoxFuture`, or any type under `#[traced(future)]`)
    /// built some other way.
    BoxedFuture,
}

fn last_segment_is(ty: &Type, name: &str) -> Option<syn::PathArguments> {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .filter(|s| s.ident == name)
            .map(|s| s.arguments.clone()),
        _ => None,
    }
}

fn bounds_name_future<'a>(mut bounds: impl Iterator<Item = &'a syn::TypeParamBound>) -> bool {
    bounds.any(|b| match b {
        syn::TypeParamBound::Trait(t) => {
            t.path.segments.last().is_some_and(|s| s.ident == "Future")
        }
        _ => false,
    })
}

fn first_type_arg(args: &syn::PathArguments) -> Option<&Type> {
    match args {
        syn::PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

fn is_boxed_dyn_future(ty: &Type) -> bool {
    let Some(pin_args) = last_segment_is(ty, "Pin") else {
        return false;
    };
    let Some(boxed) = first_type_arg(&pin_args) else {
        return false;
    };
    let Some(box_args) = last_segment_is(boxed, "Box") else {
        return false;
    };
    matches!(first_type_arg(&box_args), Some(Type::TraitObject(t)) if bounds_name_future(t.bounds.iter()))
}

/// `BoxFuture<'a, T>` / `LocalBoxFuture<'a, T>`: the `futures` crate's aliases of a pinned,
/// boxed `dyn Future`, recognised by name.
fn is_box_future_alias(ty: &Type) -> bool {
    last_segment_is(ty, "BoxFuture").is_some() || last_segment_is(ty, "LocalBoxFuture").is_some()
}

/// Whether an attribute runs an async fn itself (`#[tokio::main]`, `#[tokio::test]`,
/// `#[async_std::main]`...): such attributes need the fn to stay `async`.
fn is_runner(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "main" || s.ident == "test")
}

fn shape<'a>(func: &'a Func, opts: &Options) -> Shape<'a> {
    if func.sig.asyncness.is_some() {
        return if func.attrs.iter().any(is_runner) {
            Shape::AsyncFnKept
        } else {
            Shape::AsyncFn
        };
    }
    let ReturnType::Type(_, ty) = &func.sig.output else {
        return Shape::Sync;
    };
    if let Type::ImplTrait(t) = &**ty
        && bounds_name_future(t.bounds.iter())
    {
        return Shape::ImplFuture;
    }
    if opts.future.is_some() || is_boxed_dyn_future(ty) || is_box_future_alias(ty) {
        if let Some(Stmt::Expr(Expr::Call(call), None)) =
            func.block.as_ref().and_then(|b| b.stmts.last())
        {
            let is_box_pin = matches!(&*call.func, Expr::Path(p)
                if p.path.segments.len() >= 2
                    && p.path.segments[p.path.segments.len() - 2].ident == "Box"
                    && p.path.segments[p.path.segments.len() - 1].ident == "pin");
            if is_box_pin && call.args.len() == 1 && matches!(call.args[0], Expr::Async(_)) {
                return Shape::BoxedAsyncBlock(call);
            }
        }
        return Shape::BoxedFuture;
    }
    Shape::Sync
}

struct FindImpl(bool);

impl<'ast> Visit<'ast> for FindImpl {
    fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
        self.0 = true;
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    let mut f = FindImpl(false);
    f.visit_type(ty);
    f.0
}

/// The same tokens, every one carrying `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = proc_macro2::TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

fn expand(opts: &Options, func: Func, carrier: Option<Carrier>) -> TokenStream {
    let krate = opts
        .krate
        .as_ref()
        .map(|k| k.value.to_token_stream())
        .unwrap_or_else(|| quote!(::traceweave));
    let p = quote!(#krate::__private);
    let site = Span::mixed_site();
    let span_var = format_ident!("__tw_span", span = site);
    let guard_var = format_ident!("__tw_guard", span = site);
    let ret_var = format_ident!("__tw_ret", span = site);
    let out_var = format_ident!("__tw_out", span = site);
    let s_var = format_ident!("__tw_s", span = site);
    let fut_var = format_ident!("__tw_fut", span = site);
    let attached_var = format_ident!("__tw_attached", span = site);

    let name = match &opts.name {
        Some(n) => n.value.to_token_stream(),
        None => {
            let n = func.sig.ident.unraw().to_string();
            quote!(#n)
        }
    };
    let kind = format_ident!(
        "{}",
        opts.kind
            .as_ref()
            .map_or(Kind::Internal, |k| k.value.1)
            .variant()
    );
    let start = match &opts.parent {
        Some(parent) => {
            let expr = &parent.value;
            quote!(#p::start_with_parent(#name, #p::SpanKind::#kind, &(#expr)))
        }
        None => {
            let root = opts.root.is_some();
            quote!(#p::start(#name, #p::SpanKind::#kind, #root))
        }
    };
    // A #[traced_rpc] span: its parent comes from the incoming request, then the request's
    // semantic-convention attributes are recorded.
    let rpc_start = carrier.as_ref().map(|c| {
        let consumer =
            opts.consumer.is_some() || matches!(&opts.kind, Some(k) if k.value.1 == Kind::Consumer);
        let kind = if consumer {
            quote!(Consumer)
        } else {
            quote!(Server)
        };
        let link = opts.link.is_some();
        let (prelude, parent, describe) = match c {
            Carrier::Probe(params, at) => {
                // Each named parameter is probed by autoref specialization: one whose type
                // implements `RpcCarrier` yields `Found`, the others `NotFound`; the first
                // found wins. With none, `rpc_carrier` reports it where `at` points.
                let at_p = respan(p.clone(), *at);
                let probes = params
                    .iter()
                    .map(|ident| quote_spanned!(*at=> .or((&&#at_p::Probe(&#ident)).__tw_probe())));
                let found = quote_spanned!(*at=> #at_p::rpc_carrier(#at_p::NotFound #(#probes)*));
                (
                    quote! {
                        use #p::{ProbeCarrier as _, ProbeOther as _};
                        let __tw_carrier = #found;
                    },
                    quote!(#p::RpcCarrier::parent_context(__tw_carrier)),
                    quote!(#p::RpcCarrier::describe(__tw_carrier, &mut #span_var);),
                )
            }
            Carrier::Expr(expr) => {
                // Spanned on the expression, so a type that is no carrier is reported there.
                let at = respan(p.clone(), expr.span());
                (
                    quote!(),
                    quote_spanned!(expr.span()=> #at::extract_parent(&(#expr))),
                    quote!(),
                )
            }
        };
        quote! {
            {
                #prelude
                let mut #span_var = #p::start_rpc(#name, #p::SpanKind::#kind, #parent, #link);
                if #span_var.is_recording() {
                    #describe
                }
                #span_var
            }
        }
    });
    let start = rpc_start.clone().unwrap_or(start);

    // Sync fns without an explicit or remote parent take the in-place fast path.
    let enter_sync = if rpc_start.is_some() || opts.parent.is_some() {
        quote!(#p::enter(#start))
    } else {
        let root = opts.root.is_some();
        quote!(#p::enter_new(#name, #p::SpanKind::#kind, #root))
    };

    // `&mut Span` in both uses below: a local `Span` (async) or the guard's (sync).
    let span_ref = quote!(&mut *#span_var);
    let mut records = Vec::new();
    if let Some(args) = &opts.args {
        for arg in &args.value {
            let ident = &arg.ident;
            let key = ident.unraw().to_string();
            // Spanned on the argument, so a type that cannot be recorded is reported there.
            let at = respan(p.clone(), ident.span());
            let f = match arg.mode {
                Mode::Value => quote_spanned!(ident.span()=> #at::record_value),
                Mode::Display => quote_spanned!(ident.span()=> #at::record_display),
                Mode::Debug => quote_spanned!(ident.span()=> #at::record_debug),
            };
            records.push(quote_spanned!(ident.span()=> #f(#span_ref, #key, &#ident);));
        }
    }
    if let Some(attrs) = &opts.attrs {
        for a in &attrs.value {
            let key = &a.key;
            let value = &a.value;
            let is_str_lit = matches!(
                value,
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(_),
                    ..
                })
            );
            let at = respan(p.clone(), value.span());
            records.push(match a.mode {
                Mode::Value if is_str_lit => {
                    quote!(#p::record_static_str(#span_ref, #key, #value);)
                }
                Mode::Value => {
                    quote_spanned!(value.span()=> #at::record_value(#span_ref, #key, &(#value));)
                }
                Mode::Display => {
                    quote_spanned!(value.span()=> #at::record_display(#span_ref, #key, &(#value));)
                }
                Mode::Debug => {
                    quote_spanned!(value.span()=> #at::record_debug(#span_ref, #key, &(#value));)
                }
            });
        }
    }
    let record = if records.is_empty() {
        quote!()
    } else {
        quote! {
            {
                let #span_var = &mut #span_var;
                if #span_var.is_recording() { #(#records)* }
            }
        }
    };
    // Sync fns record on the entered guard, so the span is built in place.
    let record_on_guard = if records.is_empty() {
        quote!()
    } else {
        quote! {
            {
                let #span_var = #guard_var.span_mut();
                if #span_var.is_recording() { #(#records)* }
            }
        }
    };
    let ret_record = if opts.ret.is_some() {
        quote!(#p::record_return(#s_var, #out_var);)
    } else {
        quote!()
    };
    let classify = quote! {
        {
            #[allow(unused_imports)]
            use #p::{ViaAny as _, ViaDebug as _, ViaDisplay as _, ViaEcosystem as _};
            (&&&&#p::Outcome(#out_var)).__tw_outcome(#s_var);
        }
    };
    let on_output = quote!(|#out_var, #s_var| { #ret_record #classify });

    let Func {
        attrs,
        inner,
        vis,
        sig,
        block: _,
        raw: block,
    } = &func;

    let never_returns =
        matches!(&sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)));
    let async_fake_return = || match &sig.output {
        ReturnType::Type(_, ty) if !contains_impl_trait(ty) => quote_spanned! {ty.span()=>
            #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::needless_return)]
            if false {
                let __tw_fake: #ty = #p::unreachable();
                return __tw_fake;
            }
        },
        ReturnType::Default => quote! {
            #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::needless_return)]
            if false {
                return #p::unreachable::<()>();
            }
        },
        ReturnType::Type(..) => quote!(),
    };
    // The body's statements without their braces, for async blocks (as a block they would be
    // the async block's tail, which `unused_braces` reports on the user's braces).
    let stmts = match &func.block {
        Some(b) => {
            let stmts = &b.stmts;
            quote!(#(#stmts)*)
        }
        None => block.clone(),
    };
    let mut sig = sig.clone();
    let body = match shape(&func, opts) {
        // `-> !`: only a panic leaves, and the guard's drop sees it.
        Shape::Sync if never_returns => quote! {
            let mut #guard_var = #enter_sync;
            #record_on_guard
            #block
        },
        Shape::Sync => {
            let annot = match &sig.output {
                ReturnType::Type(arrow, ty) if !contains_impl_trait(ty) => quote!(#arrow #ty),
                // A body ending in a panic must not let the unit type be inferred as anything else.
                ReturnType::Default => quote!(-> ()),
                ReturnType::Type(..) => quote!(),
            };
            // The body runs in a closure (so `return` and `?` leave the body, not the fn, and the
            // result can be classified) that is called as `FnOnce`: it owns what it captures, so
            // a borrow returned through `&mut self` may escape it.
            quote! {
                let mut #guard_var = #enter_sync;
                #record_on_guard
                let #ret_var = #p::call_once(move || #annot #block);
                {
                    let #out_var = &#ret_var;
                    let #s_var = #guard_var.span_mut();
                    #ret_record
                    #classify
                }
                #ret_var
            }
        }
        Shape::AsyncFn => {
            let fake_return = async_fake_return();
            // Every parameter moves into the future, as it does in an async fn, so it is dropped
            // when the future is, not when the call returns (and `args` can record it when the
            // span starts, at the first poll).
            let keep: Vec<_> = {
                let mut names: Vec<_> = valid::parameter_names(&sig).into_iter().collect();
                names.sort();
                names
                    .into_iter()
                    .map(|n| {
                        let ident = if n == "self" {
                            quote!(self)
                        } else {
                            syn::Ident::new_raw_or_plain(&n).into_token_stream()
                        };
                        quote!(let _ = &#ident;)
                    })
                    .collect()
            };
            let output = match &sig.output {
                ReturnType::Type(_, ty) => quote!(#ty),
                ReturnType::Default => quote!(()),
            };
            sig.asyncness = None;
            // Spanned in this macro's edition (2024), so the returned future captures every
            // lifetime of the signature, as an async fn's does, whatever the caller's edition.
            let impl_token = quote_spanned!(site=> impl);
            sig.output = syn::parse_quote!(-> #impl_token ::core::future::Future<Output = #output>);
            let root = opts.root.is_some();
            let unpolled_kind = if carrier.is_some() {
                let consumer = opts.consumer.is_some()
                    || matches!(&opts.kind, Some(k) if k.value.1 == Kind::Consumer);
                if consumer {
                    quote!(Consumer)
                } else {
                    quote!(Server)
                }
            } else {
                kind.to_token_stream()
            };
            quote! {
                #p::Unpolled::new(
                    #name,
                    #p::SpanKind::#unpolled_kind,
                    #root,
                    async move {
                        #(#keep)*
                        #[allow(unused_mut)]
                        let mut #span_var = #start;
                        #record
                        #p::Instrumented::new(
                            async move {
                                #fake_return
                                #stmts
                            },
                            #span_var,
                            #on_output,
                        )
                        .await
                    },
                )
            }
        }
        Shape::AsyncFnKept => {
            let fake_return = async_fake_return();
            quote! {
                #[allow(unused_mut)]
                let mut #span_var = #start;
                #record
                #p::Instrumented::new(async move { #fake_return #stmts }, #span_var, #on_output).await
            }
        }
        Shape::ImplFuture => quote! {
            #[allow(unused_mut)]
            let mut #span_var = #start;
            #record
            let #fut_var = {
                let #attached_var = #p::attach(&#span_var);
                #p::call_once(move || #block)
            };
            #p::Instrumented::new(#fut_var, #span_var, #on_output)
        },
        Shape::BoxedAsyncBlock(call) => {
            let func_path = &call.func;
            let inner = &call.args[0];
            let stmts = &func.block.as_ref().map_or(&[][..], |b| &b.stmts[..]);
            let prelude = &stmts[..stmts.len().saturating_sub(1)];
            quote! {
                #[allow(unused_mut)]
                let mut #span_var = #start;
                #record
                #(#prelude)*
                #func_path(#p::Instrumented::new(#inner, #span_var, #on_output))
            }
        }
        Shape::BoxedFuture => quote! {
            #[allow(unused_mut)]
            let mut #span_var = #start;
            #record
            let #fut_var = {
                let #attached_var = #p::attach(&#span_var);
                #p::call_once(move || #block)
            };
            #p::Box::pin(#p::Instrumented::new(#fut_var, #span_var, #on_output))
        },
    };

    quote! {
        #(#attrs)*
        #vis #sig {
            #(#inner)*
            #body
        }
    }
}

trait IdentExt2 {
    fn new_raw_or_plain(name: &str) -> syn::Ident;
}

impl IdentExt2 for syn::Ident {
    /// `type` → `r#type`; other names as they are.
    fn new_raw_or_plain(name: &str) -> syn::Ident {
        syn::parse_str::<syn::Ident>(name)
            .unwrap_or_else(|_| syn::Ident::new_raw(name, Span::call_site()))
    }
}
