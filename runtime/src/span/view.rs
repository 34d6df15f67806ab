//! Finished spans as exporters read them: borrowed from the collector's buffer, nothing copied
//! or converted until an exporter asks for it.

use super::raw::{CodeLocation, Prim, RawSpan, StaticAttr, code_attr};
use super::{Array, Event, KeyValue, Link, SpanKind, SpanRecord, Status, Value};
use crate::context::TraceState;
use crate::id::{SpanId, TraceFlags, TraceId};

static EMPTY_TRACE_STATE: TraceState = TraceState::new();

/// A batch of finished spans, as the collector hands it to
/// [`Exporter::export`](crate::Exporter::export). It borrows the collector's buffer: read the spans through
/// [`SpanView`]s, or turn them into owned [`SpanRecord`]s with [`to_records`](Self::to_records).
///
/// ```
/// use traceweave::{SpanBatch, SpanRecord};
/// fn names(batch: SpanBatch<'_>) -> Vec<String> {
///     batch.iter().map(|span| span.name().to_owned()).collect()
/// }
/// assert!(names(SpanBatch::from_records(&[])).is_empty());
/// ```
#[derive(Clone, Copy)]
pub struct SpanBatch<'a>(Spans<'a>);

#[derive(Clone, Copy)]
enum Spans<'a> {
    Raw(&'a [RawSpan]),
    Records(&'a [SpanRecord]),
}

impl<'a> SpanBatch<'a> {
    /// A batch over owned records (to call an exporter with records made elsewhere).
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| traceweave::span("work").start().end()).0;
    /// let batch = traceweave::SpanBatch::from_records(&spans);
    /// assert_eq!(batch.len(), 1);
    /// ```
    pub fn from_records(records: &'a [SpanRecord]) -> Self {
        SpanBatch(Spans::Records(records))
    }

    pub(crate) fn from_raw(raw: &'a [RawSpan]) -> Self {
        SpanBatch(Spans::Raw(raw))
    }

    /// How many spans.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     traceweave::span("a").start().end();
    ///     traceweave::span("b").start().end();
    /// }).0;
    /// assert_eq!(traceweave::SpanBatch::from_records(&spans).len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        match self.0 {
            Spans::Raw(s) => s.len(),
            Spans::Records(s) => s.len(),
        }
    }

    /// Whether there are none.
    ///
    /// ```
    /// assert!(traceweave::SpanBatch::from_records(&[]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The span at `index`.
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| traceweave::span("GET /orders").attribute("http.route", "/orders").start().end()).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// assert_eq!(batch.get(0).map(|s| s.name()), Some("GET /orders"));
    /// assert!(batch.get(1).is_none());
    /// ```
    pub fn get(&self, index: usize) -> Option<SpanView<'a>> {
        match self.0 {
            Spans::Raw(s) => s.get(index).map(|r| SpanView(View::Raw(r))),
            Spans::Records(s) => s.get(index).map(|r| SpanView(View::Record(r))),
        }
    }

    /// The spans, in the order they were collected.
    ///
    /// ```
    /// let spans = traceweave::testing::capture(|| {
    ///     traceweave::span("a").start().end();
    ///     traceweave::span("b").start().end();
    /// }).0;
    /// let batch = traceweave::SpanBatch::from_records(&spans);
    /// let names: Vec<&str> = batch.iter().map(|s| s.name()).collect();
    /// assert_eq!(names, ["a", "b"]);
    /// ```
    pub fn iter(&self) -> SpanBatchIter<'a> {
        SpanBatchIter {
            batch: *self,
            next: 0,
        }
    }

    /// Owned copies of every span.
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| traceweave::span("GET /orders").attribute("http.route", "/orders").start().end()).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// // Owned copies, for an exporter that keeps spans past its call.
    /// let kept: Vec<traceweave::SpanRecord> = batch.to_records();
    /// assert_eq!(kept, spans);
    /// ```
    pub fn to_records(&self) -> Vec<SpanRecord> {
        match self.0 {
            Spans::Raw(s) => s.iter().map(RawSpan::to_record).collect(),
            Spans::Records(s) => s.to_vec(),
        }
    }
}

impl std::fmt::Debug for SpanBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for SpanBatch<'a> {
    type Item = SpanView<'a>;
    type IntoIter = SpanBatchIter<'a>;
    fn into_iter(self) -> SpanBatchIter<'a> {
        self.iter()
    }
}

/// The spans of a [`SpanBatch`].
///
/// ```
/// # let spans = traceweave::testing::capture(|| traceweave::span("GET /orders").attribute("http.route", "/orders").start().end()).0;
/// # let batch = traceweave::SpanBatch::from_records(&spans);
/// # let span = batch.get(0).unwrap();
/// let mut iter = batch.iter();
/// assert_eq!(iter.len(), 1);
/// assert_eq!(iter.next().unwrap().name(), "GET /orders");
/// ```
#[derive(Clone, Debug)]
pub struct SpanBatchIter<'a> {
    batch: SpanBatch<'a>,
    next: usize,
}

impl<'a> Iterator for SpanBatchIter<'a> {
    type Item = SpanView<'a>;
    #[inline]
    fn next(&mut self) -> Option<SpanView<'a>> {
        let span = self.batch.get(self.next)?;
        self.next += 1;
        Some(span)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.batch.len() - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for SpanBatchIter<'_> {}

/// One finished span, borrowed. Times are nanoseconds since the Unix epoch.
#[derive(Clone, Copy)]
///
/// ```
/// use traceweave::{Exporter, ExportError, Resource, SpanBatch, StatusRef, ValueRef};
///
/// /// Prints failed spans with their database, reading the batch in place.
/// struct Failures;
///
/// impl Exporter for Failures {
///     fn export(&mut self, batch: SpanBatch<'_>, _: &Resource) -> Result<(), ExportError> {
///         for span in batch.iter().filter(|s| s.status().is_error()) {
///             let db = match span.attribute("db.system") {
///                 Some(ValueRef::Str(s)) => s,
///                 _ => "-",
///             };
///             let StatusRef::Error(why) = span.status() else { unreachable!() };
///             println!("{} {} {}ns db={db}: {why}", span.trace_id(), span.name(), span.duration_nanos());
///         }
///         Ok(())
///     }
/// }
/// # let _ = Failures;
/// ```
pub struct SpanView<'a>(View<'a>);

#[derive(Clone, Copy)]
enum View<'a> {
    Raw(&'a RawSpan),
    Record(&'a SpanRecord),
}

/// An attribute value, borrowed.
///
/// ```
/// use traceweave::{Value, ValueRef};
/// let owned = Value::from("GET");
/// assert_eq!(ValueRef::from(&owned), ValueRef::Str("GET"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    I64(i64),
    /// A 64-bit float.
    F64(f64),
    /// A string.
    Str(&'a str),
    /// A homogeneous array.
    Array(&'a Array),
}

impl ValueRef<'_> {
    /// An owned copy.
    ///
    /// ```
    /// use traceweave::{Value, ValueRef};
    /// assert_eq!(ValueRef::I64(3).to_value(), Value::I64(3));
    /// ```
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::I64(i) => Value::I64(i),
            ValueRef::F64(f) => Value::F64(f),
            ValueRef::Str(s) => Value::Str(s.to_owned().into()),
            ValueRef::Array(a) => Value::Array(a.clone()),
        }
    }
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    #[inline]
    fn from(v: &'a Value) -> Self {
        match v {
            Value::Bool(b) => ValueRef::Bool(*b),
            Value::I64(i) => ValueRef::I64(*i),
            Value::F64(f) => ValueRef::F64(*f),
            Value::Str(s) => ValueRef::Str(s),
            Value::Array(a) => ValueRef::Array(a),
        }
    }
}

impl From<Prim> for ValueRef<'static> {
    #[inline]
    fn from(p: Prim) -> Self {
        match p {
            Prim::Bool(b) => ValueRef::Bool(b),
            Prim::I64(i) => ValueRef::I64(i),
            Prim::F64(f) => ValueRef::F64(f),
            Prim::Str(s) => ValueRef::Str(s),
        }
    }
}

/// A span's outcome, borrowed.
///
/// ```
/// use traceweave::{Status, StatusRef};
/// let status = Status::error("card declined");
/// assert_eq!(StatusRef::from(&status), StatusRef::Error("card declined"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusRef<'a> {
    /// Nothing was said.
    Unset,
    /// Marked successful.
    Ok,
    /// Failed, with this message (possibly empty).
    Error(&'a str),
}

impl StatusRef<'_> {
    /// Whether the span failed.
    ///
    /// ```
    /// use traceweave::StatusRef;
    /// assert!(StatusRef::Error("timeout").is_error());
    /// assert!(!StatusRef::Ok.is_error() && !StatusRef::Unset.is_error());
    /// ```
    pub fn is_error(&self) -> bool {
        matches!(self, StatusRef::Error(_))
    }
}

impl<'a> From<&'a Status> for StatusRef<'a> {
    fn from(s: &'a Status) -> Self {
        match s {
            Status::Unset => StatusRef::Unset,
            Status::Ok => StatusRef::Ok,
            Status::Error { message } => StatusRef::Error(message),
        }
    }
}

/// The attributes of a [`SpanView`]: keys and borrowed values, in the order they were first
/// set, each key once.
///
/// ```
/// # let spans = traceweave::testing::capture(|| traceweave::span("GET /orders").attribute("http.route", "/orders").start().end()).0;
/// # let batch = traceweave::SpanBatch::from_records(&spans);
/// # let span = batch.get(0).unwrap();
/// let attributes: Vec<(&str, String)> =
///     span.attributes().map(|(k, v)| (k, v.to_value().to_string())).collect();
/// assert_eq!(attributes, [("http.route", "/orders".to_owned())]);
/// ```
#[derive(Clone)]
pub struct AttributeIter<'a> {
    inline: std::slice::Iter<'a, StaticAttr>,
    rest: std::slice::Iter<'a, KeyValue>,
    code: Option<&'a dyn CodeLocation>,
    /// The next code attribute to read (0..3).
    code_next: u8,
}

impl std::fmt::Debug for AttributeIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl std::fmt::Debug for StaticAttr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={:?}", self.key, ValueRef::from(self.value))
    }
}

impl<'a> Iterator for AttributeIter<'a> {
    type Item = (&'a str, ValueRef<'a>);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(a) = self.inline.next() {
            return Some((a.key, a.value.into()));
        }
        if let Some(kv) = self.rest.next() {
            return Some((kv.key.as_str(), (&kv.value).into()));
        }
        let code = self.code?;
        while self.code_next < 3 {
            self.code_next += 1;
            if let Some(a) = code_attr(code, self.code_next - 1) {
                return Some((a.key, a.value.into()));
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let code = self.code.map_or(0, |c| {
            (self.code_next..3)
                .filter(|&i| code_attr(c, i).is_some())
                .count()
        });
        let n = self.inline.len() + self.rest.len() + code;
        (n, Some(n))
    }
}

impl ExactSizeIterator for AttributeIter<'_> {}

impl<'a> SpanView<'a> {
    /// The trace this span belongs to.
    ///
    /// ```
    /// # use std::collections::HashMap;
    /// # let headers = HashMap::from([
    /// #     ("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
    /// #     ("tracestate".to_owned(), "vendor=abc".to_owned()),
    /// # ]);
    /// # let caller = traceweave::extract(&headers);
    /// # let spans = traceweave::testing::capture(|| {
    /// #     traceweave::span("handle").parent(&caller).link(caller.span_context().clone(), vec![]).start().end()
    /// # }).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// assert_eq!(span.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// ```
    #[inline]
    pub fn trace_id(&self) -> TraceId {
        match self.0 {
            View::Raw(r) => r.trace_id,
            View::Record(r) => r.trace_id,
        }
    }

    /// This span.
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| traceweave::span("GET /orders").attribute("http.route", "/orders").start().end()).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// assert!(span.span_id().is_valid());
    /// ```
    #[inline]
    pub fn span_id(&self) -> SpanId {
        match self.0 {
            View::Raw(r) => r.span_id,
            View::Record(r) => r.span_id,
        }
    }

    /// The parent span, or [`SpanId::INVALID`] for a root.
    ///
    /// ```
    /// # use std::collections::HashMap;
    /// # let headers = HashMap::from([
    /// #     ("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
    /// #     ("tracestate".to_owned(), "vendor=abc".to_owned()),
    /// # ]);
    /// # let caller = traceweave::extract(&headers);
    /// # let spans = traceweave::testing::capture(|| {
    /// #     traceweave::span("handle").parent(&caller).link(caller.span_context().clone(), vec![]).start().end()
    /// # }).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// assert_eq!(span.parent_span_id().to_string(), "00f067aa0ba902b7");
    /// ```
    #[inline]
    pub fn parent_span_id(&self) -> SpanId {
        match self.0 {
            View::Raw(r) => r.parent_span_id,
            View::Record(r) => r.parent_span_id,
        }
    }

    /// Whether the parent lives in another process.
    ///
    /// ```
    /// # use std::collections::HashMap;
    /// # let headers = HashMap::from([
    /// #     ("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
    /// #     ("tracestate".to_owned(), "vendor=abc".to_owned()),
    /// # ]);
    /// # let caller = traceweave::extract(&headers);
    /// # let spans = traceweave::testing::capture(|| {
    /// #     traceweave::span("handle").parent(&caller).link(caller.span_context().clone(), vec![]).start().end()
    /// # }).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// // The parent came in a traceparent header: another process.
    /// assert!(span.parent_is_remote());
    /// ```
    #[inline]
    pub fn parent_is_remote(&self) -> bool {
        match self.0 {
            View::Raw(r) => r.parent_is_remote,
            View::Record(r) => r.parent_is_remote,
        }
    }

    /// Whether this span has no parent in this trace.
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| {
    /// #     let _root = traceweave::span("GET /orders").kind(traceweave::SpanKind::Server).start().enter();
    /// #     let mut db = traceweave::span("SELECT orders").attribute("db.system", "postgresql").start();
    /// #     db.add_event("rows", vec![traceweave::KeyValue::new("count", 3)]);
    /// #     db.set_status(traceweave::Status::error("timeout"));
    /// # });
    /// # let batch = traceweave::SpanBatch::from_records(&spans.0);
    /// # let db = batch.iter().find(|s| s.name() == "SELECT orders").unwrap();
    /// # let root = batch.iter().find(|s| s.name() == "GET /orders").unwrap();
    /// assert!(root.is_root() && !db.is_root());
    /// assert_eq!(db.parent_span_id(), root.span_id());
    /// assert_eq!(db.trace_id(), root.trace_id());
    /// ```
    pub fn is_root(&self) -> bool {
        !self.parent_span_id().is_valid()
    }

    /// The W3C flags.
    ///
    /// ```
    /// # use std::collections::HashMap;
    /// # let headers = HashMap::from([
    /// #     ("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
    /// #     ("tracestate".to_owned(), "vendor=abc".to_owned()),
    /// # ]);
    /// # let caller = traceweave::extract(&headers);
    /// # let spans = traceweave::testing::capture(|| {
    /// #     traceweave::span("handle").parent(&caller).link(caller.span_context().clone(), vec![]).start().end()
    /// # }).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// assert!(span.trace_flags().is_sampled());
    /// ```
    #[inline]
    pub fn trace_flags(&self) -> TraceFlags {
        match self.0 {
            View::Raw(r) => r.flags,
            View::Record(r) => r.trace_flags,
        }
    }

    /// Vendor state carried with the trace.
    ///
    /// ```
    /// # use std::collections::HashMap;
    /// # let headers = HashMap::from([
    /// #     ("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
    /// #     ("tracestate".to_owned(), "vendor=abc".to_owned()),
    /// # ]);
    /// # let caller = traceweave::extract(&headers);
    /// # let spans = traceweave::testing::capture(|| {
    /// #     traceweave::span("handle").parent(&caller).link(caller.span_context().clone(), vec![]).start().end()
    /// # }).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// assert_eq!(span.trace_state().get("vendor"), Some("abc"));
    /// ```
    #[inline]
    pub fn trace_state(&self) -> &'a TraceState {
        match self.0 {
            View::Raw(r) => r
                .extra
                .as_ref()
                .map_or(&EMPTY_TRACE_STATE, |e| &e.trace_state),
            View::Record(r) => &r.trace_state,
        }
    }

    /// The trace id as the SkyWalking agent that started the trace spelled it, when it is not
    /// our hex form.
    #[cfg_attr(not(feature = "skywalking"), allow(dead_code))]
    pub(crate) fn sw8_trace_id(&self) -> Option<&'a str> {
        match self.0 {
            View::Raw(r) => r.extra.as_ref().and_then(|e| e.sw8_trace_id.as_deref()),
            View::Record(r) => r.sw8_trace_id.as_deref(),
        }
    }

    /// The extracted `sw8` of this span's remote parent, if it came in one.
    #[cfg_attr(not(feature = "skywalking"), allow(dead_code))]
    pub(crate) fn sw8_parent(&self) -> Option<&'a crate::context::Sw8Parent> {
        match self.0 {
            View::Raw(r) => r.extra.as_ref().and_then(|e| e.sw8_parent.as_deref()),
            View::Record(r) => r.sw8_parent.as_deref(),
        }
    }

    /// The operation's name.
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| traceweave::span("GET /orders").attribute("http.route", "/orders").start().end()).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// assert_eq!(span.name(), "GET /orders");
    /// ```
    #[inline]
    pub fn name(&self) -> &'a str {
        match self.0 {
            View::Raw(r) => match r.extra.as_ref().and_then(|e| e.name.as_deref()) {
                Some(name) => name,
                None => r.name,
            },
            View::Record(r) => &r.name,
        }
    }

    /// The name as an owned-or-static string: no copy for a static name, or a record's.
    #[cfg_attr(not(feature = "opentelemetry-sdk"), allow(dead_code))]
    pub(crate) fn name_cow(&self) -> std::borrow::Cow<'static, str> {
        match self.0 {
            View::Raw(r) => match r.extra.as_ref().and_then(|e| e.name.as_ref()) {
                Some(name) => name.clone(),
                None => std::borrow::Cow::Borrowed(r.name),
            },
            View::Record(r) => r.name.clone(),
        }
    }

    /// The span's role.
    #[inline]
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| {
    /// #     let _root = traceweave::span("GET /orders").kind(traceweave::SpanKind::Server).start().enter();
    /// #     let mut db = traceweave::span("SELECT orders").attribute("db.system", "postgresql").start();
    /// #     db.add_event("rows", vec![traceweave::KeyValue::new("count", 3)]);
    /// #     db.set_status(traceweave::Status::error("timeout"));
    /// # });
    /// # let batch = traceweave::SpanBatch::from_records(&spans.0);
    /// # let db = batch.iter().find(|s| s.name() == "SELECT orders").unwrap();
    /// # let root = batch.iter().find(|s| s.name() == "GET /orders").unwrap();
    /// assert_eq!(root.kind(), traceweave::SpanKind::Server);
    /// ```
    pub fn kind(&self) -> SpanKind {
        match self.0 {
            View::Raw(r) => r.kind,
            View::Record(r) => r.kind,
        }
    }

    /// Start, in nanoseconds since the Unix epoch.
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| traceweave::span("GET /orders").attribute("http.route", "/orders").start().end()).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// let since_epoch = std::time::Duration::from_nanos(span.start_time_unix_nano());
    /// assert!(since_epoch.as_secs() > 1_600_000_000, "wall-clock time");
    /// ```
    #[inline]
    pub fn start_time_unix_nano(&self) -> u64 {
        match self.0 {
            View::Raw(r) => r.start,
            View::Record(r) => r.start_time_unix_nano,
        }
    }

    /// End, in nanoseconds since the Unix epoch.
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| traceweave::span("GET /orders").attribute("http.route", "/orders").start().end()).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// assert!(span.end_time_unix_nano() >= span.start_time_unix_nano());
    /// ```
    #[inline]
    pub fn end_time_unix_nano(&self) -> u64 {
        match self.0 {
            View::Raw(r) => r.end,
            View::Record(r) => r.end_time_unix_nano,
        }
    }

    /// The duration in nanoseconds (0 if the clock went backwards).
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| {
    /// #     let _root = traceweave::span("GET /orders").kind(traceweave::SpanKind::Server).start().enter();
    /// #     let mut db = traceweave::span("SELECT orders").attribute("db.system", "postgresql").start();
    /// #     db.add_event("rows", vec![traceweave::KeyValue::new("count", 3)]);
    /// #     db.set_status(traceweave::Status::error("timeout"));
    /// # });
    /// # let batch = traceweave::SpanBatch::from_records(&spans.0);
    /// # let db = batch.iter().find(|s| s.name() == "SELECT orders").unwrap();
    /// # let root = batch.iter().find(|s| s.name() == "GET /orders").unwrap();
    /// assert!(root.duration_nanos() >= db.duration_nanos());
    /// assert_eq!(db.end_time_unix_nano() - db.start_time_unix_nano(), db.duration_nanos());
    /// ```
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano()
            .saturating_sub(self.start_time_unix_nano())
    }

    /// The attributes.
    #[inline]
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| {
    /// #     let _root = traceweave::span("GET /orders").kind(traceweave::SpanKind::Server).start().enter();
    /// #     let mut db = traceweave::span("SELECT orders").attribute("db.system", "postgresql").start();
    /// #     db.add_event("rows", vec![traceweave::KeyValue::new("count", 3)]);
    /// #     db.set_status(traceweave::Status::error("timeout"));
    /// # });
    /// # let batch = traceweave::SpanBatch::from_records(&spans.0);
    /// # let db = batch.iter().find(|s| s.name() == "SELECT orders").unwrap();
    /// # let root = batch.iter().find(|s| s.name() == "GET /orders").unwrap();
    /// let keys: Vec<&str> = db.attributes().map(|(key, _)| key).collect();
    /// assert_eq!(keys, ["db.system"]);
    /// ```
    pub fn attributes(&self) -> AttributeIter<'a> {
        match self.0 {
            View::Raw(r) => AttributeIter {
                inline: r.inline_attrs().iter(),
                rest: r.extra.as_ref().map_or(&[][..], |e| &e.attributes).iter(),
                code: r.code,
                code_next: 0,
            },
            View::Record(r) => AttributeIter {
                inline: [].iter(),
                rest: r.attributes.iter(),
                code: None,
                code_next: 0,
            },
        }
    }

    /// The value of the attribute with this key.
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| {
    /// #     let _root = traceweave::span("GET /orders").kind(traceweave::SpanKind::Server).start().enter();
    /// #     let mut db = traceweave::span("SELECT orders").attribute("db.system", "postgresql").start();
    /// #     db.add_event("rows", vec![traceweave::KeyValue::new("count", 3)]);
    /// #     db.set_status(traceweave::Status::error("timeout"));
    /// # });
    /// # let batch = traceweave::SpanBatch::from_records(&spans.0);
    /// # let db = batch.iter().find(|s| s.name() == "SELECT orders").unwrap();
    /// # let root = batch.iter().find(|s| s.name() == "GET /orders").unwrap();
    /// use traceweave::ValueRef;
    /// assert_eq!(db.attribute("db.system"), Some(ValueRef::Str("postgresql")));
    /// assert_eq!(db.attribute("http.route"), None);
    /// ```
    pub fn attribute(&self, key: &str) -> Option<ValueRef<'a>> {
        self.attributes().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The events, in the order they happened.
    #[inline]
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| {
    /// #     let _root = traceweave::span("GET /orders").kind(traceweave::SpanKind::Server).start().enter();
    /// #     let mut db = traceweave::span("SELECT orders").attribute("db.system", "postgresql").start();
    /// #     db.add_event("rows", vec![traceweave::KeyValue::new("count", 3)]);
    /// #     db.set_status(traceweave::Status::error("timeout"));
    /// # });
    /// # let batch = traceweave::SpanBatch::from_records(&spans.0);
    /// # let db = batch.iter().find(|s| s.name() == "SELECT orders").unwrap();
    /// # let root = batch.iter().find(|s| s.name() == "GET /orders").unwrap();
    /// assert_eq!(db.events()[0].name, "rows");
    /// ```
    pub fn events(&self) -> &'a [Event] {
        match self.0 {
            View::Raw(r) => r.extra.as_ref().map_or(&[][..], |e| &e.events),
            View::Record(r) => &r.events,
        }
    }

    /// The links.
    ///
    /// ```
    /// # use std::collections::HashMap;
    /// # let headers = HashMap::from([
    /// #     ("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
    /// #     ("tracestate".to_owned(), "vendor=abc".to_owned()),
    /// # ]);
    /// # let caller = traceweave::extract(&headers);
    /// # let spans = traceweave::testing::capture(|| {
    /// #     traceweave::span("handle").parent(&caller).link(caller.span_context().clone(), vec![]).start().end()
    /// # }).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// assert_eq!(span.links()[0].span_id.to_string(), "00f067aa0ba902b7");
    /// ```
    #[inline]
    pub fn links(&self) -> &'a [Link] {
        match self.0 {
            View::Raw(r) => r.extra.as_ref().map_or(&[][..], |e| &e.links),
            View::Record(r) => &r.links,
        }
    }

    /// The outcome.
    #[inline]
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| {
    /// #     let _root = traceweave::span("GET /orders").kind(traceweave::SpanKind::Server).start().enter();
    /// #     let mut db = traceweave::span("SELECT orders").attribute("db.system", "postgresql").start();
    /// #     db.add_event("rows", vec![traceweave::KeyValue::new("count", 3)]);
    /// #     db.set_status(traceweave::Status::error("timeout"));
    /// # });
    /// # let batch = traceweave::SpanBatch::from_records(&spans.0);
    /// # let db = batch.iter().find(|s| s.name() == "SELECT orders").unwrap();
    /// # let root = batch.iter().find(|s| s.name() == "GET /orders").unwrap();
    /// use traceweave::StatusRef;
    /// assert_eq!(db.status(), StatusRef::Error("timeout"));
    /// assert_eq!(root.status(), StatusRef::Unset);
    /// ```
    pub fn status(&self) -> StatusRef<'a> {
        match self.0 {
            View::Raw(r) => r.status(),
            View::Record(r) => (&r.status).into(),
        }
    }

    /// Attributes dropped for the count limit.
    ///
    /// ```
    /// let limits = traceweave::SpanLimits::default().with_attribute_count(1);
    /// let spans = traceweave::testing::Capture::new()
    ///     .span_limits(limits)
    ///     .run(|| traceweave::span("s").attribute("a", 1).attribute("b", 2).start().end())
    ///     .spans
    ///     .0;
    /// let batch = traceweave::SpanBatch::from_records(&spans);
    /// assert_eq!(batch.get(0).unwrap().dropped_attributes_count(), 1);
    /// ```
    pub fn dropped_attributes_count(&self) -> u32 {
        match self.0 {
            View::Raw(r) => r.extra.as_ref().map_or(0, |e| e.dropped_attributes),
            View::Record(r) => r.dropped_attributes_count,
        }
    }

    /// Events dropped for the count limit.
    ///
    /// ```
    /// let limits = traceweave::SpanLimits::default().with_event_count(1);
    /// let spans = traceweave::testing::Capture::new()
    ///     .span_limits(limits)
    ///     .run(|| {
    ///         let mut s = traceweave::span("s").start();
    ///         s.add_event("retry", vec![]);
    ///         s.add_event("retry", vec![]);
    ///     })
    ///     .spans
    ///     .0;
    /// let batch = traceweave::SpanBatch::from_records(&spans);
    /// assert_eq!(batch.get(0).unwrap().dropped_events_count(), 1);
    /// ```
    pub fn dropped_events_count(&self) -> u32 {
        match self.0 {
            View::Raw(r) => r.extra.as_ref().map_or(0, |e| e.dropped_events),
            View::Record(r) => r.dropped_events_count,
        }
    }

    /// Links dropped for the count limit.
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| traceweave::span("GET /orders").attribute("http.route", "/orders").start().end()).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// assert_eq!(span.dropped_links_count(), 0);
    /// ```
    pub fn dropped_links_count(&self) -> u32 {
        match self.0 {
            View::Raw(r) => r.extra.as_ref().map_or(0, |e| e.dropped_links),
            View::Record(r) => r.dropped_links_count,
        }
    }

    /// An owned copy.
    ///
    /// ```
    /// # let spans = traceweave::testing::capture(|| traceweave::span("GET /orders").attribute("http.route", "/orders").start().end()).0;
    /// # let batch = traceweave::SpanBatch::from_records(&spans);
    /// # let span = batch.get(0).unwrap();
    /// let record: traceweave::SpanRecord = span.to_record();
    /// assert_eq!(record.name, "GET /orders");
    /// ```
    pub fn to_record(&self) -> SpanRecord {
        match self.0 {
            View::Raw(r) => r.to_record(),
            View::Record(r) => r.clone(),
        }
    }
}

impl<'a> From<&'a SpanRecord> for SpanView<'a> {
    fn from(record: &'a SpanRecord) -> Self {
        SpanView(View::Record(record))
    }
}

impl std::fmt::Debug for SpanView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanView")
            .field("name", &self.name())
            .field("trace_id", &self.trace_id())
            .field("span_id", &self.span_id())
            .field("parent_span_id", &self.parent_span_id())
            .field("kind", &self.kind())
            .field("attributes", &self.attributes())
            .field("status", &self.status())
            .finish()
    }
}
