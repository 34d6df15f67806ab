//! The options lowered once into what every function shape writes: how the span starts (and,
//! for a sync body, starts entered), what it records when it starts, and how the function's
//! output marks it. The shapes (`shapes.rs`) only arrange these pieces around the body.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::Expr;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::attr::{Kind, Mode, Options};
use crate::valid::Carrier;

/// The names the expansion binds, in the macro's own (mixed-site) hygiene so that no name of
/// the user's body can see or shadow them.
pub struct Names {
    pub span: Ident,
    pub guard: Ident,
    pub ret: Ident,
    pub out: Ident,
    pub s: Ident,
    pub fut: Ident,
    pub attached: Ident,
}

impl Names {
    fn new() -> Self {
        let site = Span::mixed_site();
        Names {
            span: format_ident!("__tw_span", span = site),
            guard: format_ident!("__tw_guard", span = site),
            ret: format_ident!("__tw_ret", span = site),
            out: format_ident!("__tw_out", span = site),
            s: format_ident!("__tw_s", span = site),
            fut: format_ident!("__tw_fut", span = site),
            attached: format_ident!("__tw_attached", span = site),
        }
    }
}

/// Everything the options decide, lowered to tokens.
pub struct SpanPlan {
    /// The path of `traceweave::__private` (or the `crate = ...` re-export's).
    pub p: TokenStream,
    /// The span name, a string literal.
    pub name: TokenStream,
    /// The `SpanKind` variant of the function's span (`Server`/`Consumer` for `#[traced_rpc]`).
    pub kind: Ident,
    /// `root`: a new trace.
    pub root: bool,
    /// An expression giving the started `Span`.
    pub start: TokenStream,
    /// An expression giving the entered span of a sync body (built in place when it can).
    pub enter_sync: TokenStream,
    /// Statements recording `args` and `attrs` on `names.span: &mut Span`.
    records: Vec<TokenStream>,
    /// `ret`: the output is recorded.
    ret: bool,
    pub names: Names,
}

impl SpanPlan {
    pub fn lower(opts: &Options, fn_name: &Ident, carrier: Option<&Carrier>) -> SpanPlan {
        let krate = (opts.krate.as_ref())
            .map(|k| k.value.to_token_stream())
            .unwrap_or_else(|| quote!(::traceweave));
        let p = quote!(#krate::__private);
        let name = match &opts.name {
            Some(n) => n.value.to_token_stream(),
            None => {
                let n = fn_name.unraw().to_string();
                quote!(#n)
            }
        };
        let kind = match (carrier, opts.is_consumer()) {
            (Some(_), true) => Kind::Consumer,
            (Some(_), false) => Kind::Server,
            (None, _) => opts.kind.as_ref().map_or(Kind::Internal, |k| k.value.1),
        };
        let kind = format_ident!("{}", kind.variant());
        let root = opts.root.is_some();
        let names = Names::new();
        let mut plan = SpanPlan {
            p,
            name,
            kind,
            root,
            start: TokenStream::new(),
            enter_sync: TokenStream::new(),
            records: Vec::new(),
            ret: opts.ret.is_some(),
            names,
        };
        plan.records = plan.lower_records(opts);
        match carrier {
            Some(c) => {
                plan.start = plan.rpc_start(c, opts.link.is_some());
                plan.enter_sync = plan.enter_started();
            }
            None => {
                let (p, name, kind) = (&plan.p, &plan.name, &plan.kind);
                plan.start = match &opts.parent {
                    Some(parent) => {
                        let expr = &parent.value;
                        quote!(#p::start_with_parent(#name, #p::SpanKind::#kind, &(#expr)))
                    }
                    None => quote!(#p::start(#name, #p::SpanKind::#kind, #root)),
                };
                // Sync fns without an explicit parent take the in-place fast path.
                plan.enter_sync = match &opts.parent {
                    Some(_) => plan.enter_started(),
                    None => quote!(#p::enter_new(#name, #p::SpanKind::#kind, #root)),
                };
            }
        }
        plan
    }

    fn enter_started(&self) -> TokenStream {
        let (p, start) = (&self.p, &self.start);
        quote!(#p::enter(#start))
    }

    /// A `#[traced_rpc]` span: its parent comes from the incoming request, then the request's
    /// semantic-convention attributes are recorded.
    fn rpc_start(&self, carrier: &Carrier, link: bool) -> TokenStream {
        let (p, name, kind, span) = (&self.p, &self.name, &self.kind, &self.names.span);
        let (prelude, parent, describe) = match carrier {
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
                    quote!(#p::RpcCarrier::describe(__tw_carrier, &mut #span);),
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
                let mut #span = #p::start_rpc(#name, #p::SpanKind::#kind, #parent, #link);
                if #span.is_recording() {
                    #describe
                }
                #span
            }
        }
    }

    /// One statement per recorded parameter and attribute, each spanned on the user's tokens
    /// so a type that cannot be recorded is reported there.
    fn lower_records(&self, opts: &Options) -> Vec<TokenStream> {
        let (p, span) = (&self.p, &self.names.span);
        let span_ref = quote!(&mut *#span);
        let mut records = Vec::new();
        for arg in opts.args.iter().flat_map(|a| &a.value) {
            let ident = &arg.ident;
            let key = ident.unraw().to_string();
            let f = record_fn(p, arg.mode, ident.span());
            records.push(quote_spanned!(ident.span()=> #f(#span_ref, #key, &#ident);));
        }
        for a in opts.attrs.iter().flat_map(|a| &a.value) {
            let (key, value) = (&a.key, &a.value);
            let is_str_lit = matches!(
                value,
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(_),
                    ..
                })
            );
            records.push(if a.mode == Mode::Value && is_str_lit {
                quote!(#p::record_static_str(#span_ref, #key, #value);)
            } else {
                let f = record_fn(p, a.mode, value.span());
                quote_spanned!(value.span()=> #f(#span_ref, #key, &(#value));)
            });
        }
        records
    }

    /// Records on the local `Span` named `names.span` (async shapes).
    pub fn record(&self) -> TokenStream {
        let span = &self.names.span;
        self.record_on(quote!(&mut #span))
    }

    /// Records on the entered guard of a sync body, so the span is built in place.
    pub fn record_on_guard(&self) -> TokenStream {
        let guard = &self.names.guard;
        self.record_on(quote!(#guard.span_mut()))
    }

    fn record_on(&self, span_ref: TokenStream) -> TokenStream {
        if self.records.is_empty() {
            return quote!();
        }
        let (span, records) = (&self.names.span, &self.records);
        quote! {
            {
                let #span = #span_ref;
                if #span.is_recording() { #(#records)* }
            }
        }
    }

    /// Records `ret` and classifies the output (`names.out: &Output`) on `names.s: &mut Span`.
    pub fn mark_output(&self) -> TokenStream {
        let (p, out, s) = (&self.p, &self.names.out, &self.names.s);
        let ret = if self.ret {
            quote!(#p::record_return(#s, #out);)
        } else {
            quote!()
        };
        quote! {
            #ret
            {
                #[allow(unused_imports)]
                use #p::{ViaAny as _, ViaDebug as _, ViaDisplay as _, ViaEcosystem as _};
                (&&&&#p::Outcome(#out)).__tw_outcome(#s);
            }
        }
    }

    /// The closure a future wrapper calls with the output and the span.
    pub fn on_output(&self) -> TokenStream {
        let (out, s) = (&self.names.out, &self.names.s);
        let mark = self.mark_output();
        quote!(|#out, #s| { #mark })
    }
}

fn record_fn(p: &TokenStream, mode: Mode, at: Span) -> TokenStream {
    let p = respan(p.clone(), at);
    match mode {
        Mode::Value => quote_spanned!(at=> #p::record_value),
        Mode::Display => quote_spanned!(at=> #p::record_display),
        Mode::Debug => quote_spanned!(at=> #p::record_debug),
    }
}

/// The same tokens, every one carrying `span`.
pub fn respan(tokens: TokenStream, span: Span) -> TokenStream {
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
