//! Checks the options against the function they annotate.

use std::collections::HashSet;

use syn::{FnArg, ItemFn, Pat};

use crate::attr::Options;

/// Every name a parameter binds, including inside patterns, plus `self`.
fn parameter_names(item: &ItemFn) -> HashSet<String> {
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
    for input in &item.sig.inputs {
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

pub fn validate(opts: &Options, item: &ItemFn) -> syn::Result<()> {
    let mut errors: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };

    if let Some(c) = &item.sig.constness {
        push(syn::Error::new_spanned(
            c,
            "#[traced] cannot be applied to a `const fn`: a span needs the clock at run time",
        ));
    }
    if let Some(name) = &opts.name
        && name.value.value().trim().is_empty()
    {
        push(syn::Error::new_spanned(
            &name.value,
            "span name must not be empty; omit `name` to use the function's name",
        ));
    }
    if let (Some(root), Some(parent)) = (&opts.root, &opts.parent) {
        let _ = parent;
        push(syn::Error::new_spanned(
            &root.keyword,
            "`root` contradicts `parent`: a root span starts a new trace and has no parent",
        ));
    }
    if let Some(args) = &opts.args {
        let names = parameter_names(item);
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
                push(syn::Error::new_spanned(
                    &arg.ident,
                    format!("`{name}` is not a parameter of this function; {hint}"),
                ));
            } else if !seen.insert(name.clone()) {
                push(syn::Error::new_spanned(
                    &arg.ident,
                    format!("`{name}` is recorded twice in `args`"),
                ));
            }
        }
    }
    if let Some(attrs) = &opts.attrs {
        let mut seen = HashSet::new();
        for a in &attrs.value {
            if !seen.insert(a.key.clone()) {
                push(syn::Error::new_spanned(
                    &a.key_tokens,
                    format!("attribute `{}` is given twice in `attrs`", a.key),
                ));
            }
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
