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

    /// This macro's options, in the order its messages list them.
    fn options(self) -> impl Iterator<Item = &'static OptionSpec> {
        let mut specs: Vec<_> = (OPTIONS.iter())
            .filter_map(|o| o.position(self).map(|at| (at, o)))
            .collect();
        specs.sort_by_key(|(at, _)| *at);
        specs.into_iter().map(|(_, o)| o)
    }

    /// "`name`, `kind` ... and `crate`": the list an error about an option shows.
    fn option_list(self) -> String {
        let names: Vec<String> = self.options().map(|o| format!("`{}`", o.keyword)).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }

    fn option(self, keyword: &str) -> Option<&'static OptionSpec> {
        self.options().find(|o| o.keyword == keyword)
    }
}

/// How an option's value is read and where it is stored.
enum Reads {
    /// A flag: the keyword alone.
    Flag(fn(&mut Options) -> &mut Option<Given<()>>),
    /// `keyword = <expression>`.
    Expr(fn(&mut Options) -> &mut Option<Given<Expr>>),
    /// Anything else, read by its own function.
    Custom(fn(&mut Options, Ident, ParseStream<'_>) -> syn::Result<()>),
}

/// One option: its keyword, where each macro lists it (`None`: the macro has no such option),
/// and how it is read. The one table behind parsing, "valid options are ..." and the check
/// that a macro accepts an option.
struct OptionSpec {
    keyword: &'static str,
    traced: Option<u8>,
    traced_rpc: Option<u8>,
    reads: Reads,
}

impl OptionSpec {
    fn position(&self, which: Macro) -> Option<u8> {
        match which {
            Macro::Traced => self.traced,
            Macro::TracedRpc => self.traced_rpc,
        }
    }

    fn read(&self, opts: &mut Options, keyword: Ident, input: ParseStream<'_>) -> syn::Result<()> {
        match self.reads {
            Reads::Flag(slot) => {
                no_value(input, &keyword)?;
                set_once(slot(opts), keyword, ())
            }
            Reads::Expr(slot) => {
                input.parse::<Token![=]>()?;
                let value: Expr = input.parse()?;
                set_once(slot(opts), keyword, value)
            }
            Reads::Custom(read) => read(opts, keyword, input),
        }
    }
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        keyword: "server",
        traced: None,
        traced_rpc: Some(0),
        reads: Reads::Flag(|o| &mut o.server),
    },
    OptionSpec {
        keyword: "consumer",
        traced: None,
        traced_rpc: Some(1),
        reads: Reads::Flag(|o| &mut o.consumer),
    },
    OptionSpec {
        keyword: "name",
        traced: Some(0),
        traced_rpc: Some(5),
        reads: Reads::Custom(read_name),
    },
    OptionSpec {
        keyword: "kind",
        traced: Some(1),
        traced_rpc: Some(2),
        reads: Reads::Custom(read_kind),
    },
    OptionSpec {
        keyword: "link",
        traced: None,
        traced_rpc: Some(3),
        reads: Reads::Flag(|o| &mut o.link),
    },
    OptionSpec {
        keyword: "carrier",
        traced: None,
        traced_rpc: Some(4),
        reads: Reads::Expr(|o| &mut o.carrier),
    },
    OptionSpec {
        keyword: "args",
        traced: Some(2),
        traced_rpc: Some(6),
        reads: Reads::Custom(read_args),
    },
    OptionSpec {
        keyword: "attrs",
        traced: Some(3),
        traced_rpc: Some(7),
        reads: Reads::Custom(read_attrs),
    },
    OptionSpec {
        keyword: "ret",
        traced: Some(4),
        traced_rpc: Some(8),
        reads: Reads::Flag(|o| &mut o.ret),
    },
    OptionSpec {
        keyword: "root",
        traced: Some(5),
        traced_rpc: None,
        reads: Reads::Flag(|o| &mut o.root),
    },
    OptionSpec {
        keyword: "parent",
        traced: Some(6),
        traced_rpc: None,
        reads: Reads::Expr(|o| &mut o.parent),
    },
    OptionSpec {
        keyword: "future",
        traced: Some(7),
        traced_rpc: Some(9),
        reads: Reads::Flag(|o| &mut o.future),
    },
    OptionSpec {
        keyword: "crate",
        traced: Some(8),
        traced_rpc: Some(10),
        reads: Reads::Custom(read_crate),
    },
];

fn read_name(opts: &mut Options, keyword: Ident, input: ParseStream<'_>) -> syn::Result<()> {
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
    set_once(&mut opts.name, keyword, lit)
}

fn read_kind(opts: &mut Options, keyword: Ident, input: ParseStream<'_>) -> syn::Result<()> {
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
    set_once(&mut opts.kind, keyword, (ident, kind))
}

fn read_args(opts: &mut Options, keyword: Ident, input: ParseStream<'_>) -> syn::Result<()> {
    let content;
    parenthesized!(content in input);
    let list: Punctuated<ArgSpec, Token![,]> =
        content.parse_terminated(ArgSpec::parse, Token![,])?;
    set_once(&mut opts.args, keyword, list.into_iter().collect())
}

fn read_attrs(opts: &mut Options, keyword: Ident, input: ParseStream<'_>) -> syn::Result<()> {
    let content;
    parenthesized!(content in input);
    let list: Punctuated<AttrSpec, Token![,]> =
        content.parse_terminated(AttrSpec::parse, Token![,])?;
    set_once(&mut opts.attrs, keyword, list.into_iter().collect())
}

fn read_crate(opts: &mut Options, keyword: Ident, input: ParseStream<'_>) -> syn::Result<()> {
    input.parse::<Token![=]>()?;
    let value: Path = input.call(Path::parse_mod_style)?;
    set_once(&mut opts.krate, keyword, value)
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
        let mut opts = Options::default();
        while !input.is_empty() {
            let keyword = if input.peek(Token![crate]) {
                let tok: Token![crate] = input.parse()?;
                Ident::new("crate", tok.span)
            } else {
                Ident::parse_any(input).map_err(|e| {
                    let options = which.option_list();
                    syn::Error::new(e.span(), format!("expected an option: {options}"))
                })?
            };
            let Some(spec) = which.option(&keyword.to_string()) else {
                return Err(unknown_option(which, &keyword));
            };
            spec.read(&mut opts, keyword, input)?;
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(opts)
    }

    /// A consumer span (`consumer`, or `kind = consumer`) rather than a server span.
    pub fn is_consumer(&self) -> bool {
        self.consumer.is_some() || matches!(&self.kind, Some(k) if k.value.1 == Kind::Consumer)
    }
}

/// An option the macro does not have, with a hint when the other macro has it.
fn unknown_option(which: Macro, keyword: &Ident) -> syn::Error {
    let word = keyword.to_string();
    let hint = match (which, word.as_str()) {
        (Macro::TracedRpc, "root" | "parent") => format!(
            "; the parent of a #[traced_rpc] span comes from the incoming request \
             (use #[traced] for `{word}`)"
        ),
        (Macro::Traced, "server" | "consumer" | "link" | "carrier") => format!(
            "; `{word}` is an option of #[traced_rpc], which reads the parent from the \
             incoming request"
        ),
        _ => String::new(),
    };
    syn::Error::new_spanned(
        keyword,
        format!(
            "unknown option `{keyword}` for {}; valid options are {}{hint}",
            which.name(),
            which.option_list()
        ),
    )
}
