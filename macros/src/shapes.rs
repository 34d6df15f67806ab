//! What a function returns decides how its span wraps it: one function per shape, each
//! arranging the [`SpanPlan`]'s pieces around the body.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Attribute, Expr, ReturnType, Signature, Stmt, Type};

use crate::attr::Options;
use crate::expand::Func;
use crate::plan::SpanPlan;
use crate::valid;

/// What the function returns, which decides how the span wraps it.
pub enum Shape<'a> {
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

impl<'a> Shape<'a> {
    pub fn of(func: &'a Func, opts: &Options) -> Shape<'a> {
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
            return match boxed_async_block(func) {
                Some(call) => Shape::BoxedAsyncBlock(call),
                None => Shape::BoxedFuture,
            };
        }
        Shape::Sync
    }

    /// The new body; `sig` is changed where the shape needs it (an async fn loses `async`).
    pub fn body(&self, plan: &SpanPlan, func: &Func, sig: &mut Signature) -> TokenStream {
        match self {
            Shape::Sync => sync(plan, func),
            Shape::AsyncFn => async_fn(plan, func, sig),
            Shape::AsyncFnKept => async_fn_kept(plan, func),
            Shape::ImplFuture => future_returned(plan, func, false),
            Shape::BoxedAsyncBlock(call) => boxed_async_block_body(plan, func, call),
            Shape::BoxedFuture => future_returned(plan, func, true),
        }
    }
}

/// A sync body runs in a closure (so `return` and `?` leave the body, not the fn, and the
/// result can be classified) called as `FnOnce`: it owns what it captures, so a borrow
/// returned through `&mut self` may escape it. `-> !`: only a panic leaves, and the guard's
/// drop sees it.
fn sync(plan: &SpanPlan, func: &Func) -> TokenStream {
    let (p, n) = (&plan.p, &plan.names);
    let (guard, ret, out, s) = (&n.guard, &n.ret, &n.out, &n.s);
    let (enter, record, block) = (&plan.enter_sync, plan.record_on_guard(), &func.raw);
    let never_returns =
        matches!(&func.sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)));
    if never_returns {
        return quote! {
            let mut #guard = #enter;
            #record
            #block
        };
    }
    let annot = match &func.sig.output {
        ReturnType::Type(arrow, ty) if !contains_impl_trait(ty) => quote!(#arrow #ty),
        // A body ending in a panic must not let the unit type be inferred as anything else.
        ReturnType::Default => quote!(-> ()),
        ReturnType::Type(..) => quote!(),
    };
    let mark = plan.mark_output();
    quote! {
        let mut #guard = #enter;
        #record
        let #ret = #p::call_once(move || #annot #block);
        {
            let #out = &#ret;
            let #s = #guard.span_mut();
            #mark
        }
        #ret
    }
}

/// An async fn becomes a fn returning `impl Future` (`Unpolled`): every parameter moves into
/// the future (into the closure its first poll calls, then into the body's async block), as it
/// does in an async fn, so it is dropped when the future is, not when the call returns (and
/// `args` can record it when the span starts, at the first poll).
fn async_fn(plan: &SpanPlan, func: &Func, sig: &mut Signature) -> TokenStream {
    let (p, name, kind, root) = (&plan.p, &plan.name, &plan.kind, plan.root);
    let keep = keep_parameters(sig);
    let output = match &sig.output {
        ReturnType::Type(_, ty) => quote!(#ty),
        ReturnType::Default => quote!(()),
    };
    sig.asyncness = None;
    // Spanned in this macro's edition (2024), so the returned future captures every lifetime
    // of the signature, as an async fn's does, whatever the caller's edition.
    let impl_token = quote_spanned!(Span::mixed_site()=> impl);
    sig.output = syn::parse_quote!(-> #impl_token ::core::future::Future<Output = #output>);
    let (span, start) = (&plan.names.span, &plan.start);
    let (record, on_output) = (plan.record(), plan.on_output());
    let fake_return = async_fake_return(plan, &func.sig);
    let stmts = statements(func);
    quote! {
        #p::Unpolled::new(#name, #p::SpanKind::#kind, #root, move || {
            #(#keep)*
            #[allow(unused_mut)]
            let mut #span = #start;
            #record
            #p::Instrumented::new(async move { #fake_return #stmts }, #span, #on_output)
        })
    }
}

/// The body of an async fn that stays async: the span starts at the first poll.
fn async_fn_kept(plan: &SpanPlan, func: &Func) -> TokenStream {
    let (p, span, start) = (&plan.p, &plan.names.span, &plan.start);
    let (record, on_output) = (plan.record(), plan.on_output());
    let fake_return = async_fake_return(plan, &func.sig);
    let stmts = statements(func);
    quote! {
        #[allow(unused_mut)]
        let mut #span = #start;
        #record
        #p::Instrumented::new(async move { #fake_return #stmts }, #span, #on_output).await
    }
}

/// `-> impl Future` or a boxed future built by the body: the body runs under the span's context
/// (its synchronous prelude is the span's too), and the span covers the future it returns.
fn future_returned(plan: &SpanPlan, func: &Func, boxed: bool) -> TokenStream {
    let (p, n, start, block) = (&plan.p, &plan.names, &plan.start, &func.raw);
    let (span, fut, attached) = (&n.span, &n.fut, &n.attached);
    let (record, on_output) = (plan.record(), plan.on_output());
    let wrapped = quote!(#p::Instrumented::new(#fut, #span, #on_output));
    let wrapped = if boxed {
        quote!(#p::Box::pin(#wrapped))
    } else {
        wrapped
    };
    quote! {
        #[allow(unused_mut)]
        let mut #span = #start;
        #record
        let #fut = {
            let #attached = #p::attach(&#span);
            #p::call_once(move || #block)
        };
        #wrapped
    }
}

/// `Box::pin(async move {..})` at the end (`#[async_trait]`): the async block itself is wrapped,
/// so the span starts with the call and covers the block.
fn boxed_async_block_body(plan: &SpanPlan, func: &Func, call: &syn::ExprCall) -> TokenStream {
    let (p, span, start) = (&plan.p, &plan.names.span, &plan.start);
    let (record, on_output) = (plan.record(), plan.on_output());
    let (func_path, inner) = (&call.func, &call.args[0]);
    let stmts = func.block.as_ref().map_or(&[][..], |b| &b.stmts[..]);
    let prelude = &stmts[..stmts.len().saturating_sub(1)];
    quote! {
        #[allow(unused_mut)]
        let mut #span = #start;
        #record
        #(#prelude)*
        #func_path(#p::Instrumented::new(#inner, #span, #on_output))
    }
}

/// `let _ = &param;` for every parameter: moves each into the async block that owns them.
fn keep_parameters(sig: &Signature) -> Vec<TokenStream> {
    let mut names: Vec<_> = valid::parameter_names(sig).into_iter().collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let ident = if n == "self" {
                quote!(self)
            } else {
                raw_or_plain(&n).into_token_stream()
            };
            quote!(let _ = &#ident;)
        })
        .collect()
}

/// A return edge that never runs, so the async block's type is the declared output (the body
/// alone might infer another type, or `!`).
fn async_fake_return(plan: &SpanPlan, sig: &Signature) -> TokenStream {
    let p = &plan.p;
    match &sig.output {
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
    }
}

/// The body's statements without their braces, for async blocks (as a block they would be the
/// async block's tail, which `unused_braces` reports on the user's braces).
fn statements(func: &Func) -> TokenStream {
    match &func.block {
        Some(b) => {
            let stmts = &b.stmts;
            quote!(#(#stmts)*)
        }
        None => func.raw.clone(),
    }
}

/// `type` → `r#type`; other names as they are.
fn raw_or_plain(name: &str) -> syn::Ident {
    syn::parse_str::<syn::Ident>(name)
        .unwrap_or_else(|_| syn::Ident::new_raw(name, Span::call_site()))
}

/// The body's last expression, when it is `Box::pin(async ..)`.
fn boxed_async_block(func: &Func) -> Option<&syn::ExprCall> {
    let Some(Stmt::Expr(Expr::Call(call), None)) = func.block.as_ref()?.stmts.last() else {
        return None;
    };
    let segments = match &*call.func {
        Expr::Path(p) => &p.path.segments,
        _ => return None,
    };
    let is_box_pin = segments.len() >= 2
        && segments[segments.len() - 2].ident == "Box"
        && segments[segments.len() - 1].ident == "pin";
    (is_box_pin && call.args.len() == 1 && matches!(call.args[0], Expr::Async(_))).then_some(call)
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
