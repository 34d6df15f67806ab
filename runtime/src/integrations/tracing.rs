//! The `tracing` ecosystem: a `tracing-subscriber` layer that turns `tracing` spans and events
//! into traceweave spans and span events, and log lines that carry the current trace and span
//! ids.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! let _guard = tracing_subscriber::registry()
//!     .with(traceweave::integrations::tracing::layer())
//!     .set_default();
//! // Spans from `#[tracing::instrument]`, `info_span!`, tokio, hyper, tonic... are now
//! // traceweave spans, nested with `#[traced]` ones both ways.
//! ```
//!
//! Nesting: a `tracing` span starts as a child of traceweave's current context (or of its
//! explicit `parent:`), and while it is entered it *is* the current context, so a `#[traced]`
//! fn called inside it is its child, and an `#[instrument]` fn called inside a `#[traced]` fn is
//! that one's child; `.instrument(span)` futures enter their span at every poll, on whatever
//! thread polls them.
//!
//! Fields become attributes (also those recorded later with `Span::record`), with the
//! conventions of `tracing-opentelemetry`: `otel.name` renames the span, `otel.kind` sets its
//! kind (`server`, `client`, `producer`, `consumer`, `internal`; read when the span starts),
//! `otel.status_code` (`ok`/`error`) and `otel.status_description` set its status, and an
//! `error` field marks it failed with the error's text. Events become span events of the
//! current span (a `#[traced]` fn's too): the message is the event's name, with `level`,
//! `target`, the location and the fields as attributes. An `ERROR` event marks its span failed
//! only with [`TraceweaveLayer::error_events_fail_spans`]. Events with no sampled span to go to
//! are dropped before their fields are read.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use ::tracing::field::{Field, Visit};
use ::tracing::span::{Attributes, Id, Record};
use ::tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;

use crate::context::{self, Context};
use crate::id::{SpanId, TraceId};
use crate::semconv;
use crate::span::raw::CodeLocation;
use crate::span::{Event, KeyValue, Parent, Span, SpanKind, Status, Value, clock, inbox};

/// A span's code location is its callsite's: the span points at the metadata.
impl CodeLocation for Metadata<'static> {
    fn filepath(&self) -> Option<&'static str> {
        self.file()
    }

    fn lineno(&self) -> Option<u32> {
        self.line()
    }

    fn namespace(&self) -> Option<&'static str> {
        self.module_path()
    }
}

/// The layer with its defaults: every span its filters let through, events to the current
/// span, code locations recorded, `ERROR` events not failing spans.
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let spans = traceweave::testing::capture(|| {
///     let _subscriber = tracing_subscriber::registry()
///         .with(traceweave::integrations::tracing::layer())
///         .set_default();
///     let _query = tracing::info_span!("db.query", db.system = "postgresql").entered();
///     tracing::info!(rows = 3, "fetched");
/// });
/// let query = spans.named("db.query").unwrap();
/// assert_eq!(query.events[0].name, "fetched");
/// ```
pub fn layer() -> TraceweaveLayer {
    TraceweaveLayer {
        error_events_fail_spans: false,
        location: true,
    }
}

/// A `tracing_subscriber::Layer` that records `tracing` spans and events with traceweave
/// (see the [module](self)). Filter it like any layer: `layer().with_filter(EnvFilter::...)`,
/// or a global filter on the registry; a span filtered out never reaches it.
#[derive(Debug, Clone)]
pub struct TraceweaveLayer {
    error_events_fail_spans: bool,
    location: bool,
}

impl TraceweaveLayer {
    /// Whether an `ERROR`-level event marks the span it lands on failed, with the event's
    /// message (default `false`: an error that was logged and handled is not a failed span).
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// let layer = traceweave::integrations::tracing::layer().error_events_fail_spans(true);
    /// let spans = traceweave::testing::capture(|| {
    ///     let _subscriber = tracing_subscriber::registry().with(layer).set_default();
    ///     let _job = tracing::info_span!("job").entered();
    ///     tracing::error!("disk full");
    /// });
    /// assert!(spans.named("job").unwrap().status.is_error());
    /// ```
    pub fn error_events_fail_spans(mut self, on: bool) -> Self {
        self.error_events_fail_spans = on;
        self
    }

    /// Whether spans and events record `code.file.path`, `code.line.number` and `code.namespace`
    /// (default `true`; static strings, no allocation).
    pub fn with_location(mut self, on: bool) -> Self {
        self.location = on;
        self
    }
}

/// What the layer keeps in a `tracing` span's extensions.
struct Data {
    span: Span,
    /// What children and entered scopes see; `None` when the span changes nothing (an
    /// unsampled local parent).
    ctx: Option<Context>,
    /// Boxed: most spans never set a status, and `Data` is moved into the registry per span.
    status: Option<Box<Pending>>,
}

#[derive(Default)]
struct Pending {
    ok: bool,
    error: bool,
    description: Option<String>,
    error_text: Option<String>,
}

impl Pending {
    /// `otel.status_code`, `otel.status_description` (or `_message`) and `error`.
    fn field(&mut self, name: &str, value: &Value) {
        let text = value.to_string();
        match name {
            "otel.status_code" if text.eq_ignore_ascii_case("error") => self.error = true,
            "otel.status_code" if text.eq_ignore_ascii_case("ok") => self.ok = true,
            "otel.status_code" => {}
            "error" => self.error_text = Some(text),
            _ => self.description = Some(text),
        }
    }

    fn is_unset(&self) -> bool {
        !self.ok && !self.error && self.description.is_none() && self.error_text.is_none()
    }

    fn apply(self, span: &mut Span) {
        if self.ok {
            span.set_status(Status::Ok);
        } else if self.error || self.error_text.is_some() {
            let message = self.description.or(self.error_text).unwrap_or_default();
            span.set_status(Status::error(message));
        }
    }
}

thread_local! {
    /// The context of the span this thread created last, until it is first entered: a span is
    /// usually entered right after it is made, and this spares that enter the registry lookup.
    /// Keyed by the registry's id, which is generational (a reused slot gets a new id) and is
    /// only handed out on the thread that owns the slot, where `on_new_span` replaces this.
    static MADE: Cell<Option<(u64, Context)>> = const { Cell::new(None) };
    /// The frames this thread pushed for entered `tracing` spans: (span id, token). Taken out
    /// of the cell while worked on (the allocator may log).
    static ENTERED: Cell<Vec<(u64, u64)>> = const { Cell::new(Vec::new()) };
}

/// The token of this thread's innermost frame for the `tracing` span `id`, if it is entered.
fn entered_token(id: &Id) -> Option<u64> {
    let entered = ENTERED.try_with(Cell::take).ok()?;
    let token = entered
        .iter()
        .rev()
        .find(|(span, _)| *span == id.into_u64())
        .map(|(_, token)| *token);
    let _ = ENTERED.try_with(|e| e.set(entered));
    token
}

/// A field's `Debug` text, formatting stopped at `limit` characters (or the cap on formatted
/// values): a hostile `Debug` costs what the span keeps, not its full size.
fn text_of(value: &dyn fmt::Debug, limit: Option<u32>) -> String {
    crate::span::format_bounded(format_args!("{value:?}"), limit)
}

/// Reads a span's fields at creation: the `otel.*` conventions, the rest as attributes.
#[derive(Default)]
struct SpanFields {
    name: Option<String>,
    kind: Option<SpanKind>,
    status: Pending,
    attributes: Vec<(&'static str, Value)>,
}

impl SpanFields {
    /// Before the span exists its pipeline's limit is unknown: the cap applies, then the limit.
    fn limit(&self) -> Option<u32> {
        None
    }

    fn field(&mut self, field: &Field, value: Value) {
        match field.name() {
            "otel.name" => self.name = Some(value.to_string()),
            "otel.kind" => self.kind = parse_kind(&value.to_string()),
            name @ ("otel.status_code" | "otel.status_description" | "otel.status_message") => {
                self.status.field(name, &value)
            }
            "error" => {
                self.status.field("error", &value);
                self.attributes.push(("error", value));
            }
            name => self.attributes.push((name, value)),
        }
    }
}

fn parse_kind(s: &str) -> Option<SpanKind> {
    Some(match s.to_ascii_lowercase().as_str() {
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        "internal" => SpanKind::Internal,
        _ => return None,
    })
}

macro_rules! visit_values {
    ($ty:ty) => {
        impl Visit for $ty {
            fn record_bool(&mut self, field: &Field, value: bool) {
                self.field(field, Value::Bool(value));
            }
            fn record_i64(&mut self, field: &Field, value: i64) {
                self.field(field, Value::I64(value));
            }
            fn record_u64(&mut self, field: &Field, value: u64) {
                match i64::try_from(value) {
                    Ok(v) => self.field(field, Value::I64(v)),
                    Err(_) => self.field(field, Value::from(value.to_string())),
                }
            }
            fn record_f64(&mut self, field: &Field, value: f64) {
                self.field(field, Value::F64(value));
            }
            fn record_str(&mut self, field: &Field, value: &str) {
                self.field(field, Value::from(value.to_owned()));
            }
            fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
                let text = crate::span::format_bounded(format_args!("{value}"), self.limit());
                self.field(field, Value::from(text));
            }
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                self.field(field, Value::from(text_of(value, self.limit())));
            }
        }
    };
}

visit_values!(SpanFields);

/// Fields recorded later (`Span::record`) on a started span.
struct Recorded<'a> {
    span: &'a mut Span,
    status: &'a mut Option<Box<Pending>>,
}

impl Recorded<'_> {
    fn limit(&self) -> Option<u32> {
        self.span.value_length_limit()
    }

    fn field(&mut self, field: &Field, value: Value) {
        match field.name() {
            "otel.name" => self.span.update_name(value.to_string()),
            "otel.kind" => {} // a span's kind is fixed when it starts
            name @ ("otel.status_code" | "otel.status_description" | "otel.status_message") => {
                self.status.get_or_insert_default().field(name, &value)
            }
            "error" => {
                self.status.get_or_insert_default().field("error", &value);
                self.span.set_attribute("error", value);
            }
            name => self.span.set_attribute(name, value),
        }
    }
}

visit_values!(Recorded<'_>);

/// An event's fields: the message becomes the event's name.
#[derive(Default)]
struct EventFields {
    message: Option<String>,
    error: Option<String>,
    attributes: Vec<KeyValue>,
}

impl EventFields {
    fn limit(&self) -> Option<u32> {
        None
    }

    fn field(&mut self, field: &Field, value: Value) {
        match field.name() {
            "message" => self.message = Some(value.to_string()),
            "error" => {
                let text = value.to_string();
                self.attributes.push(KeyValue::new(
                    semconv::attr::EXCEPTION_MESSAGE,
                    text.clone(),
                ));
                self.error = Some(text);
            }
            // tracing-log's fields for records of the `log` crate.
            "log.target" | "log.module_path" | "log.file" | "log.line" => {
                self.attributes.push(KeyValue::new(field.name(), value))
            }
            name => self.attributes.push(KeyValue::new(name, value)),
        }
    }
}

visit_values!(EventFields);

fn level_text(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

impl TraceweaveLayer {
    fn location(&self, meta: &'static Metadata<'static>, out: &mut Vec<KeyValue>) {
        if !self.location {
            return;
        }
        if let Some(file) = meta.file() {
            out.push(KeyValue::new(semconv::code::FILE_PATH, file));
        }
        if let Some(line) = meta.line() {
            out.push(KeyValue::new(semconv::code::LINE_NUMBER, i64::from(line)));
        }
        if let Some(module) = meta.module_path() {
            out.push(KeyValue::new(semconv::code::NAMESPACE, module));
        }
    }

    fn event_of(&self, event: &::tracing::Event<'_>) -> (Event, Option<String>) {
        let meta = event.metadata();
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let mut attributes = Vec::with_capacity(fields.attributes.len() + 5);
        attributes.push(KeyValue::new("level", level_text(meta.level())));
        attributes.push(KeyValue::new("target", meta.target()));
        self.location(meta, &mut attributes);
        attributes.append(&mut fields.attributes);
        let name: Cow<'static, str> = match fields.message {
            Some(m) => Cow::Owned(m),
            None => Cow::Borrowed(meta.name()),
        };
        let fail = if self.error_events_fail_spans && *meta.level() == Level::ERROR {
            Some(fields.error.unwrap_or_else(|| name.to_string()))
        } else {
            None
        };
        let event = Event {
            name,
            time_unix_nano: clock::ticks(),
            attributes,
            dropped_attributes_count: 0,
        };
        (event, fail)
    }
}

impl<S> tracing_subscriber::Layer<S> for TraceweaveLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(this) = ctx.span(id) else { return };
        let meta = attrs.metadata();
        let mut fields = SpanFields::default();
        attrs.record(&mut fields);
        let explicit = attrs
            .parent()
            .and_then(|p| ctx.span(p))
            .and_then(|p| p.extensions().get::<Data>().map(|d| d.ctx.clone()));
        let name: Cow<'static, str> = match fields.name.take() {
            Some(n) => Cow::Owned(n),
            None => Cow::Borrowed(meta.name()),
        };
        let kind = fields.kind.unwrap_or(SpanKind::Internal);
        let parent = match (&explicit, attrs.is_root()) {
            (_, true) => Parent::Root,
            (Some(Some(parent)), false) => Parent::Explicit(parent),
            // A parent we do not record (filtered out, or unsampled): the current context.
            _ => Parent::Current,
        };
        // The span goes straight into its `Data`, which the registry then boxes.
        let mut data = Data {
            span: crate::tracer::start(name, kind, parent),
            ctx: None,
            status: (!fields.status.is_unset()).then(|| Box::new(fields.status)),
        };
        if data.span.is_recording() {
            for (key, value) in fields.attributes {
                data.span.set_attribute(key, value);
            }
            if self.location {
                data.span.set_code(meta);
            }
        }
        data.ctx = data.span.attach_context();
        let _ = MADE.try_with(|m| m.set(data.ctx.clone().map(|c| (id.into_u64(), c))));
        this.extensions_mut().insert(data);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(this) = ctx.span(id) else { return };
        let mut ext = this.extensions_mut();
        if let Some(data) = ext.get_mut::<Data>()
            && data.span.is_recording()
        {
            let Data { span, status, .. } = data;
            values.record(&mut Recorded { span, status });
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        let (Some(this), Some(other)) = (ctx.span(id), ctx.span(follows)) else {
            return;
        };
        let Some(link) = other
            .extensions()
            .get::<Data>()
            .and_then(|d| d.ctx.as_ref().map(|c| *c.span_context()))
        else {
            return;
        };
        if let Some(data) = this.extensions_mut().get_mut::<Data>() {
            data.span.add_link(link, Vec::new());
        }
    }

    fn on_event(&self, event: &::tracing::Event<'_>, ctx: LayerContext<'_, S>) {
        if event.is_root() {
            return;
        }
        if let Some(parent) = event.parent() {
            // An explicit parent. Entered on this thread: through its frame, so its events
            // keep their order; else straight onto the span, if we record it.
            if let Some(token) = entered_token(parent) {
                let (e, fail) = self.event_of(event);
                inbox::post_to(token, e, fail);
                return;
            }
            let Some(target) = ctx.span(parent) else {
                return;
            };
            let mut ext = target.extensions_mut();
            let Some(data) = ext.get_mut::<Data>().filter(|d| d.span.is_recording()) else {
                return;
            };
            let (e, fail) = self.event_of(event);
            data.span.add_event(e.name, e.attributes);
            if let Some(message) = fail {
                let status = data.status.get_or_insert_default();
                status.error = true;
                status.description.get_or_insert(message);
            }
            return;
        }
        // The current span, whichever API opened it; nothing is read if there is none.
        if context::top_span_frame().is_none() {
            return;
        }
        let (e, fail) = self.event_of(event);
        inbox::post_to_current(e, fail);
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let span_ctx = match MADE.try_with(Cell::take).ok().flatten() {
            Some((made, c)) if made == id.into_u64() => c,
            _ => {
                let Some(this) = ctx.span(id) else { return };
                let Some(c) = this.extensions().get::<Data>().and_then(|d| d.ctx.clone()) else {
                    return;
                };
                c
            }
        };
        let token = context::push_span(span_ctx);
        if token == 0 {
            return;
        }
        let _ = ENTERED.try_with(|cell| {
            let mut entered = cell.take();
            entered.push((id.into_u64(), token));
            // What a reentrant enter (from the allocator) recorded meanwhile stays too.
            entered.extend(cell.take());
            cell.set(entered);
        });
    }

    fn on_exit(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Ok(mut entered) = ENTERED.try_with(Cell::take) else {
            return;
        };
        let token = entered
            .iter()
            .rposition(|(span, _)| *span == id.into_u64())
            .map(|i| entered.remove(i).1);
        ENTERED.with(|e| e.set(entered));
        let Some(token) = token else { return };
        context::pop(token);
        if !inbox::is_empty()
            && let Some(this) = ctx.span(id)
            && let Some(data) = this.extensions_mut().get_mut::<Data>()
        {
            data.span.take_posted(token);
        }
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(this) = ctx.span(&id) else { return };
        // Ended where it lies (no copy of the span out of the registry); the registry frees
        // the emptied box when it reuses the slot.
        let mut ext = this.extensions_mut();
        if let Some(Data { span, status, .. }) = ext.get_mut::<Data>() {
            if let Some(status) = status.take() {
                status.apply(span);
            }
            span.end_in_place();
        }
    }
}

/// The trace and span ids of the current context (any API's span: `#[traced]`, a `tracing`
/// span through the layer, a manual span), to put into log lines of any logger. `None` when
/// no span is current.
///
/// ```
/// if let Some((trace_id, span_id)) = traceweave::current_ids() {
///     println!("trace_id={trace_id} span_id={span_id} something happened");
/// }
/// ```
pub fn current_ids() -> Option<(TraceId, SpanId)> {
    crate::current_ids()
}

/// A `tracing_subscriber::fmt` event format that adds the current `trace_id` and `span_id`
/// to every log line written while a span is current: as two fields of the object for JSON
/// lines (`.json()`), and as `trace_id=… span_id=…` at the start of text lines (full,
/// compact, pretty; before the formatter's own output, so its colours are kept).
///
/// JSON lines need JSON fields too (`.fmt_fields(JsonFields::new())`, or `.json()` on the
/// layer): with the default text fields, `tracing-subscriber` panics at the first event inside
/// a span ("had malformed fields").
///
/// ```
/// use tracing_subscriber::fmt::format::JsonFields;
/// use tracing_subscriber::prelude::*;
/// use traceweave::integrations::tracing::WithTraceIds;
///
/// let json = tracing_subscriber::fmt::layer()
///     .fmt_fields(JsonFields::new())
///     .event_format(WithTraceIds::new(tracing_subscriber::fmt::format().json()));
/// let _guard = tracing_subscriber::registry()
///     .with(traceweave::integrations::tracing::layer())
///     .with(json)
///     .set_default();
/// traceweave::testing::capture(|| {
///     let _span = tracing::info_span!("checkout", order = 42).entered();
///     // {"timestamp":"…","level":"INFO","fields":{"message":"charged"},…,"trace_id":"…","span_id":"…"}
///     tracing::info!("charged");
/// });
/// ```
///
/// Text lines, any of `fmt`'s text formats:
///
/// ```
/// use tracing_subscriber::prelude::*;
/// use traceweave::integrations::tracing::WithTraceIds;
///
/// let text = tracing_subscriber::fmt::layer()
///     .event_format(WithTraceIds::new(tracing_subscriber::fmt::format().compact()));
/// let _guard = tracing_subscriber::registry()
///     .with(traceweave::integrations::tracing::layer())
///     .with(text)
///     .set_default();
/// traceweave::testing::capture(|| {
///     let _span = tracing::info_span!("checkout", order = 42).entered();
///     tracing::info!("charged"); // trace_id=… span_id=… INFO checkout: charged order=42
/// });
/// ```
#[derive(Debug, Clone)]
pub struct WithTraceIds<F> {
    inner: F,
}

impl<F> WithTraceIds<F> {
    /// Wraps an event format (`tracing_subscriber::fmt::format()`, `.json()`, `.compact()`...).
    pub fn new(inner: F) -> Self {
        WithTraceIds { inner }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &::tracing::Event<'_>,
    ) -> fmt::Result {
        let ids = match event.parent() {
            Some(parent) => ctx.span(parent).and_then(|s| {
                s.extensions()
                    .get::<Data>()
                    .and_then(|d| d.ctx.as_ref().map(|c| *c.span_context()))
            }),
            None if event.is_root() => None,
            None => Some(*Context::current().span_context()),
        }
        .filter(|sc| sc.is_valid());
        let Some(sc) = ids else {
            return self.inner.format_event(ctx, writer, event);
        };
        if writer.has_ansi_escapes() {
            // Text on a terminal: the ids first, the formatter's coloured line after.
            text_prefix(&mut writer, &sc)?;
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::with_capacity(256);
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let trimmed = line.trim_end();
        if trimmed.starts_with('{') && trimmed.ends_with('}') {
            // A JSON object: two more members.
            let close = trimmed.len() - 1;
            let empty = trimmed[1..close].trim().is_empty();
            writer.write_str(&line[..close])?;
            write!(
                writer,
                "{}\"trace_id\":\"{}\",\"span_id\":\"{}\"",
                if empty { "" } else { "," },
                sc.trace_id(),
                sc.span_id()
            )?;
            writer.write_str(&line[close..])
        } else {
            text_prefix(&mut writer, &sc)?;
            writer.write_str(&line)
        }
    }
}

/// The ids at the start of a text line.
fn text_prefix(writer: &mut Writer<'_>, sc: &crate::SpanContext) -> fmt::Result {
    write!(
        writer,
        "trace_id={} span_id={} ",
        sc.trace_id(),
        sc.span_id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_case_insensitively() {
        assert_eq!(parse_kind("SERVER"), Some(SpanKind::Server));
        assert_eq!(parse_kind("consumer"), Some(SpanKind::Consumer));
        assert_eq!(parse_kind("nope"), None);
    }
}
