//! Parsing `#[traced(...)]` options into a typed model that keeps the user's tokens, so every
//! error can point at the token that caused it.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Path, Token, parenthesized};

/// How an argument or attribute value is recorded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A typed value (`ToValue`).
    Value,
    /// `%x`: the `Display` text.
    Display,
    /// `?x`: the `Debug` text.
    Debug,
}

pub struct ArgSpec {
    pub mode: Mode,
    pub ident: Ident,
}

pub struct AttrSpec {
    /// The dotted key as text.
    pub key: String,
    /// The key's tokens, for errors.
    pub key_tokens: TokenStream,
    pub mode: Mode,
    pub value: Expr,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

pub const KINDS: &str = "`internal`, `server`, `client`, `producer` or `consumer`";

/// Which attribute is being parsed: they share options but not all of them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Macro {
    Traced,
    TracedRpc,
}

impl Macro {
    pub fn name(self) -> &'static str {
        match self {
            Macro::Traced => "#[traced]",
            Macro::TracedRpc => "#[traced_rpc]",
        }
    }

    fn options(self) -> &'static str {
        match self {
            Macro::Traced => {
                "`name`, `kind`, `args`, `attrs`, `ret`, `root`, `parent`, `future` and `crate`"
            }
            Macro::TracedRpc => {
                "`server`, `consumer`, `kind`, `link`, `carrier`, `name`, `args`, `attrs`, `ret`, \
                 `future` and `crate`"
            }
        }
    }

    fn accepts(self, option: &str) -> bool {
        match self {
            Macro::Traced => matches!(
                option,
                "name" | "kind" | "args" | "attrs" | "ret" | "root" | "parent" | "future" | "crate"
            ),
            Macro::TracedRpc => matches!(
                option,
                "server"
                    | "consumer"
                    | "kind"
                    | "link"
                    | "carrier"
                    | "name"
                    | "args"
                    | "attrs"
                    | "ret"
                    | "future"
                    | "crate"
            ),
        }
    }
}

impl Kind {
    fn from_ident(ident: &Ident) -> Option<Kind> {
        Some(match ident.to_string().as_str() {
            "internal" => Kind::Internal,
            "server" => Kind::Server,
            "client" => Kind::Client,
            "producer" => Kind::Producer,
            "consumer" => Kind::Consumer,
            _ => return None,
        })
    }

    pub fn variant(self) -> &'static str {
        match self {
            Kind::Internal => "Internal",
            Kind::Server => "Server",
            Kind::Client => "Client",
            Kind::Producer => "Producer",
            Kind::Consumer => "Consumer",
        }
    }
}

/// One option with the keyword that introduced it.
pub struct Given<T> {
    pub keyword: Ident,
    pub value: T,
}

#[derive(Default)]
pub struct Options {
    pub name: Option<Given<LitStr>>,
    pub kind: Option<Given<(Ident, Kind)>>,
    pub args: Option<Given<Vec<ArgSpec>>>,
    pub attrs: Option<Given<Vec<AttrSpec>>>,
    pub ret: Option<Given<()>>,
    pub root: Option<Given<()>>,
    /// The return type is a boxed future under another name.
    pub future: Option<Given<()>>,
    pub parent: Option<Given<Expr>>,
    pub krate: Option<Given<Path>>,
    pub server: Option<Given<()>>,
    pub consumer: Option<Given<()>>,
    pub link: Option<Given<()>>,
    pub carrier: Option<Given<Expr>>,
}

/// Stores an option, refusing a second occurrence with an error on the second keyword.
fn set_once<T>(slot: &mut Option<Given<T>>, keyword: Ident, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new_spanned(
            &keyword,
            format!("`{keyword}` given twice; give each option once"),
        ));
    }
    *slot = Some(Given { keyword, value });
    Ok(())
}

fn no_value(input: ParseStream<'_>, keyword: &Ident) -> syn::Result<()> {
    if input.peek(Token![=]) || input.peek(syn::token::Paren) {
        return Err(syn::Error::new_spanned(
            keyword,
            format!("`{keyword}` is a flag and takes no value: write `{keyword}` alone"),
        ));
    }
    Ok(())
}

fn parse_mode(input: ParseStream<'_>) -> syn::Result<Mode> {
    if input.peek(Token![%]) {
        input.parse::<Token![%]>()?;
        Ok(Mode::Display)
    } else if input.peek(Token![?]) {
        input.parse::<Token![?]>()?;
        Ok(Mode::Debug)
    } else {
        Ok(Mode::Value)
    }
}

impl Parse for ArgSpec {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mode = parse_mode(input)?;
        let ident = Ident::parse_any(input).map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a parameter name, optionally after `%` (Display) or `?` (Debug)",
            )
        })?;
        Ok(ArgSpec { mode, ident })
    }
}

impl Parse for AttrSpec {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let (key, key_tokens) = if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            if lit.value().is_empty() {
                return Err(syn::Error::new_spanned(
                    &lit,
                    "attribute key must not be empty",
                ));
            }
            (lit.value(), lit.to_token_stream())
        } else {
            let mut parts = Vec::new();
            let mut tokens = TokenStream::new();
            loop {
                let ident = Ident::parse_any(input).map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected an attribute key such as `user.id` or \"user.id\"",
                    )
                })?;
                parts.push(ident.unraw().to_string());
                ident.to_tokens(&mut tokens);
                if input.peek(Token![.]) {
                    input.parse::<Token![.]>()?.to_tokens(&mut tokens);
                } else {
                    break;
                }
            }
            (parts.join("."), tokens)
        };
        input.parse::<Token![=]>().map_err(|e| {
            syn::Error::new(e.span(), format!("expected `=` and a value after `{key}`"))
        })?;
        let mode = parse_mode(input)?;
        let value: Expr = input.parse()?;
        Ok(AttrSpec {
            key,
            key_tokens,
            mode,
            value,
        })
    }
}

impl Options {
    pub fn parse_for(which: Macro, tokens: proc_macro2::TokenStream) -> syn::Result<Self> {
        syn::parse::Parser::parse2(
            |input: ParseStream<'_>| Self::parse_in(which, input),
            tokens,
        )
    }

    fn parse_in(which: Macro, input: ParseStream<'_>) -> syn::Result<Self> {
        let options = which.options();
        let mut opts = Options::default();
        while !input.is_empty() {
            let keyword = if input.peek(Token![crate]) {
                let tok: Token![crate] = input.parse()?;
                Ident::new("crate", tok.span)
            } else {
                Ident::parse_any(input).map_err(|e| {
                    syn::Error::new(e.span(), format!("expected an option: {options}"))
                })?
            };
            let word = keyword.to_string();
            if !which.accepts(&word) {
                let hint = match (which, word.as_str()) {
                    (Macro::TracedRpc, "root" | "parent") => format!(
                        "; the parent of a #[traced_rpc] span comes from the incoming request \
                         (use #[traced] for `{word}`)"
                    ),
                    (Macro::Traced, "server" | "consumer" | "link" | "carrier") => format!(
                        "; `{word}` is an option of #[traced_rpc], which reads the parent from \
                         the incoming request"
                    ),
                    _ => String::new(),
                };
                return Err(syn::Error::new_spanned(
                    &keyword,
                    format!(
                        "unknown option `{keyword}` for {}; valid options are {options}{hint}",
                        which.name()
                    ),
                ));
            }
            match word.as_str() {
                "name" => {
                    input.parse::<Token![=]>()?;
                    let value: Expr = input.parse()?;
                    let lit = match &value {
                        Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(s),
                            ..
                        }) => s.clone(),
                        other => {
                            return Err(syn::Error::new_spanned(
                                other,
                                "`name` expects a string literal, like `name = \"checkout\"`",
                            ));
                        }
                    };
                    set_once(&mut opts.name, keyword, lit)?;
                }
                "kind" => {
                    input.parse::<Token![=]>()?;
                    let value: Expr = input.parse()?;
                    let ident = match &value {
                        Expr::Path(p) if p.path.get_ident().is_some() => p
                            .path
                            .get_ident()
                            .cloned()
                            .unwrap_or_else(|| Ident::new("internal", Span::call_site())),
                        other => {
                            return Err(syn::Error::new_spanned(
                                other,
                                format!("`kind` expects one of {KINDS}"),
                            ));
                        }
                    };
                    let kind = Kind::from_ident(&ident).ok_or_else(|| {
                        syn::Error::new_spanned(
                            &ident,
                            format!("unknown span kind `{ident}`; expected {KINDS}"),
                        )
                    })?;
                    set_once(&mut opts.kind, keyword, (ident, kind))?;
                }
                "args" => {
                    let content;
                    parenthesized!(content in input);
                    let list: Punctuated<ArgSpec, Token![,]> =
                        content.parse_terminated(ArgSpec::parse, Token![,])?;
                    set_once(&mut opts.args, keyword, list.into_iter().collect())?;
                }
                "attrs" => {
                    let content;
                    parenthesized!(content in input);
                    let list: Punctuated<AttrSpec, Token![,]> =
                        content.parse_terminated(AttrSpec::parse, Token![,])?;
                    set_once(&mut opts.attrs, keyword, list.into_iter().collect())?;
                }
                "ret" => {
                    no_value(input, &keyword)?;
                    set_once(&mut opts.ret, keyword, ())?;
                }
                "root" => {
                    no_value(input, &keyword)?;
                    set_once(&mut opts.root, keyword, ())?;
                }
                "future" => {
                    no_value(input, &keyword)?;
                    set_once(&mut opts.future, keyword, ())?;
                }
                "parent" => {
                    input.parse::<Token![=]>()?;
                    let value: Expr = input.parse()?;
                    set_once(&mut opts.parent, keyword, value)?;
                }
                "crate" => {
                    input.parse::<Token![=]>()?;
                    let value: Path = input.call(Path::parse_mod_style)?;
                    set_once(&mut opts.krate, keyword, value)?;
                }
                "server" => {
                    no_value(input, &keyword)?;
                    set_once(&mut opts.server, keyword, ())?;
                }
                "consumer" => {
                    no_value(input, &keyword)?;
                    set_once(&mut opts.consumer, keyword, ())?;
                }
                "link" => {
                    no_value(input, &keyword)?;
                    set_once(&mut opts.link, keyword, ())?;
                }
                "carrier" => {
                    input.parse::<Token![=]>()?;
                    let value: Expr = input.parse()?;
                    set_once(&mut opts.carrier, keyword, value)?;
                }
                _ => unreachable!("checked by Macro::accepts"),
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(opts)
    }
}
