//! Carrying the context across processes: the formats real systems speak, over small carrier
//! traits so HTTP headers, gRPC metadata and message headers all plug in.
//!
//! Every extractor is total: malformed, oversized or hostile input is ignored (a new trace
//! starts), never a panic, and nothing outside a format's grammar is ever written out.

mod b3;
mod baggage;
mod carriers;
mod composite;
mod jaeger;
pub(crate) mod percent;
mod rpc;
mod sw8;
mod w3c;

#[cfg(test)]
mod properties;

use std::fmt;
use std::sync::{Arc, RwLock};

use crate::context::Context;
use crate::id::{SpanId, TraceId};

pub use b3::B3Propagator;
pub use baggage::BaggagePropagator;
pub(crate) use baggage::is_token;
pub use composite::CompositePropagator;
pub use jaeger::JaegerPropagator;
pub use rpc::RpcCarrier;
pub use sw8::SkyWalkingPropagator;
pub use w3c::TraceContextPropagator;

/// Reads fields from a carrier (HTTP headers, gRPC metadata, message headers). Keys are
/// matched case-insensitively.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a carrier traceweave can read a context from",
    label = "not headers, metadata or message properties",
    note = "carriers: HashMap<String, String>, http::HeaderMap and http::Request (feature \
            `http`), tonic::metadata::MetadataMap and tonic::Request (`tonic`), lapin's \
            FieldTable, BasicProperties and Delivery (`amqp`), async_nats::HeaderMap and \
            Message (`nats`), or your own type implementing `traceweave::Extractor`"
)]
pub trait Extractor {
    /// The first value of `key`.
    fn get(&self, key: &str) -> Option<&str>;

    /// Every value of `key` (a header may repeat). Defaults to the first one.
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.get(key).into_iter().collect()
    }

    /// All keys present (for prefixed fields such as Jaeger's `uberctx-*`), lowercase.
    fn keys(&self) -> Vec<String>;

    /// Every field as stored (`(key, value)`, keys in any case), for carriers whose lookups
    /// are not case-insensitive by themselves: a large one is then indexed once per
    /// extraction instead of scanned per key. `None` (the default) when `get` is already
    /// case-insensitive and cheap (`http::HeaderMap`).
    fn entries(&self) -> Option<Vec<(&str, &str)>> {
        None
    }
}

impl<E: Extractor + ?Sized> Extractor for &E {
    fn get(&self, key: &str) -> Option<&str> {
        (**self).get(key)
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        (**self).get_all(key)
    }
    fn keys(&self) -> Vec<String> {
        (**self).keys()
    }
    fn entries(&self) -> Option<Vec<(&str, &str)>> {
        (**self).entries()
    }
}

/// The one value of `key`: `Some(None)` when absent, `None` when it is given more than once
/// (two `traceparent`, `b3`, `uber-trace-id` or `sw8` headers, or `Traceparent` and
/// `traceparent` in a map), which every format treats as invalid.
pub(crate) fn single<'a>(carrier: &'a dyn Extractor, key: &str) -> Option<Option<&'a str>> {
    match carrier.get_all(key).as_slice() {
        [] => Some(None),
        [one] => Some(Some(one)),
        _ => None,
    }
}

/// Carriers with more fields than this are indexed by lowercase key before extraction.
const INDEX_ABOVE: usize = 16;

/// A carrier's fields by lowercase key, built in one pass, so each lookup is a hash probe
/// however many headers a message has.
struct Indexed<'a> {
    by_key: std::collections::HashMap<String, Vec<&'a str>>,
}

impl<'a> Indexed<'a> {
    fn new(entries: Vec<(&'a str, &'a str)>) -> Self {
        let mut by_key: std::collections::HashMap<String, Vec<&'a str>> =
            std::collections::HashMap::with_capacity(entries.len());
        for (k, v) in entries {
            by_key.entry(k.to_ascii_lowercase()).or_default().push(v);
        }
        Indexed { by_key }
    }
}

impl Extractor for Indexed<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.get_all(key).first().copied()
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        let found = if key.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_key.get(&key.to_ascii_lowercase())
        } else {
            self.by_key.get(key)
        };
        found.cloned().unwrap_or_default()
    }
    fn keys(&self) -> Vec<String> {
        self.by_key.keys().cloned().collect()
    }
}

/// Writes fields into a carrier. Keys are lowercase; values are already valid for the format.
///
/// ```
/// use traceweave::Injector;
///
/// /// Headers of a message broker's client, as the broker library stores them.
/// struct Headers(Vec<(String, Vec<u8>)>);
///
/// impl Injector for Headers {
///     fn set(&mut self, key: &str, value: String) {
///         self.0.retain(|(k, _)| k != key);
///         self.0.push((key.to_owned(), value.into_bytes()));
///     }
/// }
///
/// let mut headers = Headers(Vec::new());
/// traceweave::inject(&mut headers);
/// ```
pub trait Injector {
    /// Sets `key` to `value`, replacing earlier values.
    fn set(&mut self, key: &str, value: String);

    /// The address (`host:port`) the request carrying these headers is sent to, for formats
    /// that name it (SkyWalking's `sw8` does: its peer records the call under that address).
    /// `None` (the default) when the carrier does not know.
    fn target_address(&self) -> Option<&str> {
        None
    }
}

/// An injector that knows where its request goes (see [`Injector::target_address`]).
#[cfg(feature = "http")]
pub(crate) struct ToAddress<'a, I: ?Sized> {
    pub(crate) carrier: &'a mut I,
    pub(crate) address: &'a str,
}

#[cfg(feature = "http")]
impl<I: Injector + ?Sized> Injector for ToAddress<'_, I> {
    fn set(&mut self, key: &str, value: String) {
        self.carrier.set(key, value)
    }

    fn target_address(&self) -> Option<&str> {
        Some(self.address)
    }
}

/// A propagation format.
///
/// ```
/// use std::collections::HashMap;
/// use traceweave::{Context, Propagator};
/// use traceweave::propagation::B3Propagator;
///
/// let mut headers = HashMap::new();
/// headers.insert("b3".to_owned(), "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1".to_owned());
/// let cx: Context = B3Propagator::single_header().extract(&headers);
/// assert!(cx.span_context().is_remote() && cx.span_context().is_sampled());
/// ```
pub trait Propagator: Send + Sync + fmt::Debug + 'static {
    /// Writes `cx` into the carrier.
    fn inject(&self, cx: &Context, carrier: &mut dyn Injector);

    /// Reads a context from the carrier on top of `cx` (a found span replaces `cx`'s span, as
    /// a remote parent; baggage is merged). Anything invalid is ignored.
    fn extract_with(&self, carrier: &dyn Extractor, cx: Context) -> Context;

    /// The fields this format reads and writes.
    fn fields(&self) -> Vec<String>;

    /// Reads a context from the carrier alone.
    fn extract(&self, carrier: &dyn Extractor) -> Context {
        self.extract_with(carrier, Context::new())
    }
}

/// Why a propagator name could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPropagator(pub String);

impl fmt::Display for UnknownPropagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown propagator {:?}; known: tracecontext, baggage, b3, b3multi, jaeger, sw8, none",
            self.0
        )
    }
}

impl std::error::Error for UnknownPropagator {}

/// The propagator for one `OTEL_PROPAGATORS` name (`none` gives an empty composite).
///
/// ```
/// let p = traceweave::propagation::by_name("b3multi").unwrap();
/// assert_eq!(p.fields(), ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags"]);
/// ```
///
/// ```
/// // The names OTEL_PROPAGATORS takes.
/// let b3 = traceweave::propagation::by_name("b3multi").unwrap();
/// assert!(b3.fields().contains(&"x-b3-traceid".to_owned()));
/// assert!(traceweave::propagation::by_name("xray").is_err());
/// ```
pub fn by_name(name: &str) -> Result<Box<dyn Propagator>, UnknownPropagator> {
    Ok(match name.trim() {
        "tracecontext" => Box::new(TraceContextPropagator::new()),
        "baggage" => Box::new(BaggagePropagator::new()),
        "b3" => Box::new(B3Propagator::single_header()),
        "b3multi" => Box::new(B3Propagator::multi_header()),
        "jaeger" => Box::new(JaegerPropagator::new()),
        "sw8" | "skywalking" => Box::new(SkyWalkingPropagator::new()),
        "none" => Box::new(CompositePropagator::new(Vec::new())),
        other => return Err(UnknownPropagator(other.to_owned())),
    })
}

/// The default: W3C trace context and W3C baggage.
pub fn default_propagator() -> CompositePropagator {
    CompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

static GLOBAL: RwLock<Option<Arc<dyn Propagator>>> = RwLock::new(None);

/// Installs the propagator used by [`inject`], [`extract`] and `#[traced_rpc]` (normally done
/// by `init`, from `OTEL_PROPAGATORS` or the builder).
pub fn set_global_propagator(p: impl Propagator) {
    set_global_boxed(Box::new(p));
}

pub(crate) fn set_global_boxed(p: Box<dyn Propagator>) {
    *GLOBAL.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::from(p));
}

/// The propagator in use: the installed one, or W3C trace context + baggage.
pub fn global_propagator() -> Arc<dyn Propagator> {
    if let Some(p) = GLOBAL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return p.clone();
    }
    static DEFAULT: std::sync::OnceLock<Arc<dyn Propagator>> = std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| Arc::new(default_propagator()))
        .clone()
}

/// Writes the current context (the innermost span, e.g. a client or producer span, and the
/// baggage) into an outgoing carrier with the global propagator.
///
/// ```
/// use std::collections::HashMap;
/// let mut headers = HashMap::new();
/// traceweave::testing::capture(|| {
///     let _span = traceweave::span("call").start().enter();
///     traceweave::inject(&mut headers);
/// });
/// assert!(headers["traceparent"].starts_with("00-"));
/// ```
///
/// ```
/// use std::collections::HashMap;
///
/// #[traceweave::traced(kind = client)]
/// fn call() -> HashMap<String, String> {
///     let mut headers = HashMap::new();
///     traceweave::inject(&mut headers);
///     headers
/// }
///
/// let _tracing = traceweave::builder().ignore_env().install();
/// assert!(call().contains_key("traceparent"));
/// ```
pub fn inject<I: Injector + ?Sized>(carrier: &mut I) {
    inject_context(&Context::current(), carrier);
}

/// Writes `cx` into an outgoing carrier with the global propagator.
pub fn inject_context<I: Injector + ?Sized>(cx: &Context, carrier: &mut I) {
    struct Dyn<'a, I: ?Sized>(&'a mut I);
    impl<I: Injector + ?Sized> Injector for Dyn<'_, I> {
        fn set(&mut self, key: &str, value: String) {
            self.0.set(key, value)
        }

        fn target_address(&self) -> Option<&str> {
            self.0.target_address()
        }
    }
    global_propagator().inject(cx, &mut Dyn(carrier));
}

/// [`inject_context`] into the headers of a request sent to `address` (`host:port`).
#[cfg(feature = "http")]
pub(crate) fn inject_context_to<I: Injector + ?Sized>(
    cx: &Context,
    carrier: &mut I,
    address: &str,
) {
    inject_context(cx, &mut ToAddress { carrier, address });
}

/// Reads a context from an incoming carrier with the global propagator. An invalid or absent
/// context gives a context without a span (spans under it start a new trace).
///
/// ```
/// use std::collections::HashMap;
///
/// let mut headers = HashMap::new();
/// headers.insert(
///     "traceparent".to_owned(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
/// );
/// let parent = traceweave::extract(&headers);
/// assert_eq!(parent.span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// // A span continuing the caller's trace:
/// let span = traceweave::span("handle").parent(&parent).start();
/// # drop(span);
/// // A malformed header starts a new trace instead of failing:
/// headers.insert("traceparent".to_owned(), "garbage".to_owned());
/// assert!(!traceweave::extract(&headers).has_span());
/// ```
pub fn extract<E: Extractor + ?Sized>(carrier: &E) -> Context {
    struct Dyn<'a, E: ?Sized>(&'a E);
    impl<E: Extractor + ?Sized> Extractor for Dyn<'_, E> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key)
        }
        fn get_all(&self, key: &str) -> Vec<&str> {
            self.0.get_all(key)
        }
        fn keys(&self) -> Vec<String> {
            self.0.keys()
        }
    }
    let carrier = Dyn(carrier);
    match carrier.entries() {
        Some(entries) if entries.len() > INDEX_ABOVE => {
            global_propagator().extract(&Indexed::new(entries))
        }
        _ => global_propagator().extract(&carrier),
    }
}

/// Parses hex trace and span ids (up to 32 and 16 digits); `None` if either is zero.
pub(crate) fn parse_ids(trace: &str, span: &str) -> Option<(TraceId, SpanId)> {
    let trace_id = TraceId::from_u128(u128::from_str_radix(trace, 16).ok()?);
    let span_id = SpanId::from_u64(u64::from_str_radix(span, 16).ok()?);
    (trace_id.is_valid() && span_id.is_valid()).then_some((trace_id, span_id))
}

/// A carrier from literal pairs, for tests.
#[cfg(test)]
pub(crate) fn carrier(kv: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Lowercase hex digits only.
pub(crate) fn is_lower_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Any-case hex digits.
pub(crate) fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}
