//! Checks the options against the function they annotate.

use std::collections::HashSet;

use syn::{FnArg, Pat, Signature};

use crate::attr::{Kind, Macro, Options};

/// Every name a parameter binds, including inside patterns, plus `self`.
pub fn parameter_names(sig: &Signature) -> HashSet<String> {
    fn walk(pat: &Pat, out: &mut HashSet<String>) {
        match pat {
            Pat::Ident(p) => {
                out.insert(p.ident.unraw_string());
                if let Some((_, sub)) = &p.subpat {
                    walk(sub, out);
                }
            }
            Pat::Tuple(t) => t.elems.iter().for_each(|p| walk(p, out)),
            Pat::TupleStruct(t) => t.elems.iter().for_each(|p| walk(p, out)),
            Pat::Struct(s) => s.fields.iter().for_each(|f| walk(&f.pat, out)),
            Pat::Slice(s) => s.elems.iter().for_each(|p| walk(p, out)),
            Pat::Reference(r) => walk(&r.pat, out),
            Pat::Type(t) => walk(&t.pat, out),
            Pat::Paren(p) => walk(&p.pat, out),
            _ => {}
        }
    }
    let mut out = HashSet::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(_) => {
                out.insert("self".to_owned());
            }
            FnArg::Typed(t) => walk(&t.pat, &mut out),
        }
    }
    out
}

trait UnrawString {
    fn unraw_string(&self) -> String;
}

impl UnrawString for syn::Ident {
    fn unraw_string(&self) -> String {
        use syn::ext::IdentExt;
        self.unraw().to_string()
    }
}

/// Where a #[traced_rpc] fn finds its incoming context.
pub enum Carrier {
    /// The first of these parameters whose type implements `RpcCarrier`, found by the type
    /// checker (so a user's own request type works like the built-in ones); the span is where
    /// "none of them is a request" is reported.
    Probe(Vec<syn::Ident>, proc_macro2::Span),
    /// `carrier = expr`: anything implementing `Extractor`.
    Expr(syn::Expr),
}

/// The parameters bound to a plain name, in order (a request bound by a pattern cannot be
/// borrowed whole).
fn named_parameters(sig: &Signature) -> Vec<syn::Ident> {
    sig.inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(i) if i.subpat.is_none() => Some(i.ident.clone()),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// The identifier an expression starts from (`req` in `req.headers()`), if any.
fn root_ident(expr: &syn::Expr) -> Option<&syn::Ident> {
    match expr {
        syn::Expr::Path(p) => p.path.get_ident(),
        syn::Expr::MethodCall(m) => root_ident(&m.receiver),
        syn::Expr::Field(f) => root_ident(&f.base),
        syn::Expr::Reference(r) => root_ident(&r.expr),
        syn::Expr::Paren(p) => root_ident(&p.expr),
        syn::Expr::Unary(u) => root_ident(&u.expr),
        _ => None,
    }
}

/// Every mistake in the options, as one error (each part pointing at its own tokens); for
/// `#[traced_rpc]`, where the incoming request comes from.
pub fn validate(which: Macro, opts: &Options, sig: &Signature) -> syn::Result<Option<Carrier>> {
    let mut errors = Errors(None);
    check_fn(which, opts, sig, &mut errors);
    check_recorded(opts, sig, &mut errors);
    let carrier = (which == Macro::TracedRpc).then(|| check_rpc(opts, sig, &mut errors));
    match errors.0 {
        Some(e) => Err(e),
        None => Ok(carrier.flatten()),
    }
}

/// Errors gathered so far, combined into one.
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    fn at(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }
}

/// What the function itself allows: not `const`, `future` only on a fn returning one, a
/// name, `root` without `parent`.
fn check_fn(which: Macro, opts: &Options, sig: &Signature, errors: &mut Errors) {
    if let Some(c) = &sig.constness {
        errors.at(
            c,
            format!(
                "{} cannot be applied to a `const fn`: a span needs the clock at run time",
                which.name()
            ),
        );
    }
    if let Some(future) = &opts.future {
        if sig.asyncness.is_some() {
            errors.at(
                &future.keyword,
                "`future` is for a fn that returns a boxed future under another name (an alias \
                 of `Pin<Box<dyn Future>>`); an async fn's span already covers its future",
            );
        } else if matches!(sig.output, syn::ReturnType::Default) {
            errors.at(
                &future.keyword,
                "`future` says the return type is a boxed future (an alias of \
                 `Pin<Box<dyn Future>>`), but this fn returns nothing",
            );
        }
    }
    if let Some(name) = &opts.name
        && name.value.value().trim().is_empty()
    {
        errors.at(
            &name.value,
            "span name must not be empty; omit `name` to use the function's name",
        );
    }
    if let (Some(root), Some(_)) = (&opts.root, &opts.parent) {
        errors.at(
            &root.keyword,
            "`root` contradicts `parent`: a root span starts a new trace and has no parent",
        );
    }
}

/// `args` name parameters, each once; `attrs` keys are given once.
fn check_recorded(opts: &Options, sig: &Signature, errors: &mut Errors) {
    if let Some(args) = &opts.args {
        let names = parameter_names(sig);
        let mut seen = HashSet::new();
        for arg in &args.value {
            let name = arg.ident.unraw_string();
            if !names.contains(&name) {
                let mut known: Vec<_> = names.iter().map(|n| format!("`{n}`")).collect();
                known.sort();
                let hint = if known.is_empty() {
                    "it has no parameters".to_owned()
                } else {
                    format!("its parameters are {}", known.join(", "))
                };
                errors.at(
                    &arg.ident,
                    format!("`{name}` is not a parameter of this function; {hint}"),
                );
            } else if !seen.insert(name.clone()) {
                errors.at(&arg.ident, format!("`{name}` is recorded twice in `args`"));
            }
        }
    }
    let mut seen = HashSet::new();
    for a in opts.attrs.iter().flat_map(|a| &a.value) {
        if !seen.insert(a.key.clone()) {
            errors.at(
                &a.key_tokens,
                format!("attribute `{}` is given twice in `attrs`", a.key),
            );
        }
    }
}

/// `#[traced_rpc]`: one kind (server or consumer), `link` only on consumers, and the carrier:
/// the named parameter, or every parameter probed.
fn check_rpc(opts: &Options, sig: &Signature, errors: &mut Errors) -> Option<Carrier> {
    if let (Some(_), Some(c)) = (&opts.server, &opts.consumer) {
        errors.at(
            &c.keyword,
            "`consumer` contradicts `server`: a span has one kind",
        );
    }
    if let Some(k) = &opts.kind {
        let (ident, kind) = &k.value;
        match kind {
            Kind::Server | Kind::Consumer => {
                let flag = if *kind == Kind::Server {
                    &opts.consumer
                } else {
                    &opts.server
                };
                if let Some(flag) = flag {
                    errors.at(
                        &flag.keyword,
                        format!("`{}` contradicts `kind = {ident}`", flag.keyword),
                    );
                }
            }
            _ => errors.at(
                ident,
                format!(
                    "#[traced_rpc] opens `server` or `consumer` spans; for a `{ident}` span \
                     use #[traced(kind = {ident})] and `traceweave::inject`"
                ),
            ),
        }
    }
    if let Some(link) = &opts.link
        && !opts.is_consumer()
    {
        errors.at(
            &link.keyword,
            "`link` is for consumers (a message handler may link to its producer instead of \
             being its child); a server span is always the child of its caller",
        );
    }
    let Some(c) = &opts.carrier else {
        // An empty list has no tokens to point at: then point at the name.
        let at = if sig.inputs.is_empty() {
            sig.ident.span()
        } else {
            sig.paren_token.span.join()
        };
        return Some(Carrier::Probe(named_parameters(sig), at));
    };
    let names = parameter_names(sig);
    match root_ident(&c.value) {
        Some(id) if !names.contains(&id.unraw_string()) && id != "self" => {
            errors.at(id, format!("`{id}` is not a parameter of this function"));
            None
        }
        _ => Some(Carrier::Expr(c.value.clone())),
    }
}
