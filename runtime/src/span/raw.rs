//! The compact form a span has while it is live and while it waits in a queue. Everything
//! common fits inline (ids, times, a static name, two primitive attributes with static keys);
//! everything else goes into one boxed `Extra`, allocated only when used. The collector turns
//! it into the exporters' [`SpanRecord`].

use std::borrow::Cow;
use std::mem::MaybeUninit;

use super::{Event, Key, KeyValue, Link, SpanKind, SpanRecord, Status, Value};
use crate::context::TraceState;
use crate::id::{SpanId, TraceFlags, TraceId};

const INLINE_ATTRS: usize = 2;

/// A primitive value that needs no allocation.
#[derive(Clone, Copy)]
pub(crate) enum Prim {
    Bool(bool),
    I64(i64),
    F64(f64),
    Str(&'static str),
}

#[derive(Clone, Copy)]
pub(crate) struct StaticAttr {
    key: &'static str,
    value: Prim,
}

/// What most spans never need.
#[derive(Default)]
pub(crate) struct Extra {
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) events: Vec<Event>,
    pub(crate) links: Vec<Link>,
    pub(crate) status_message: Option<Cow<'static, str>>,
    pub(crate) trace_state: TraceState,
}

pub(crate) const STATUS_UNSET: u8 = 0;
pub(crate) const STATUS_OK: u8 = 1;
pub(crate) const STATUS_ERROR: u8 = 2;

pub(crate) struct RawSpan {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    /// Raw clock ticks until `into_record` converts them.
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) name: &'static str,
    pub(crate) kind: SpanKind,
    pub(crate) flags: TraceFlags,
    pub(crate) parent_is_remote: bool,
    pub(crate) status: u8,
    n_attrs: u8,
    attrs: [MaybeUninit<StaticAttr>; INLINE_ATTRS],
    pub(crate) extra: Option<Box<Extra>>,
}

impl RawSpan {
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: &'static str,
        kind: SpanKind,
        trace_id: TraceId,
        span_id: SpanId,
        parent_span_id: SpanId,
        parent_is_remote: bool,
        flags: TraceFlags,
        start: u64,
    ) -> Self {
        RawSpan {
            trace_id,
            span_id,
            parent_span_id,
            start,
            end: 0,
            name,
            kind,
            flags,
            parent_is_remote,
            status: STATUS_UNSET,
            n_attrs: 0,
            attrs: [MaybeUninit::uninit(); INLINE_ATTRS],
            extra: None,
        }
    }

    #[inline]
    pub(crate) fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// Inline while the attribute is primitive with a static key and nothing has spilled yet
    /// (so the order of attributes is the order they were set in).
    #[inline]
    pub(crate) fn push_attribute(&mut self, key: Key, value: Value) {
        let spilled = self
            .extra
            .as_ref()
            .is_some_and(|e| !e.attributes.is_empty());
        if !spilled
            && (self.n_attrs as usize) < INLINE_ATTRS
            && let Some(key) = key.as_static()
        {
            let prim = match value {
                Value::Bool(b) => Some(Prim::Bool(b)),
                Value::I64(i) => Some(Prim::I64(i)),
                Value::F64(f) => Some(Prim::F64(f)),
                Value::Str(Cow::Borrowed(s)) => Some(Prim::Str(s)),
                _ => None,
            };
            if let Some(value) = prim {
                self.attrs[self.n_attrs as usize] = MaybeUninit::new(StaticAttr { key, value });
                self.n_attrs += 1;
                return;
            }
        }
        self.extra().attributes.push(KeyValue { key, value });
    }

    fn inline_attrs(&self) -> impl Iterator<Item = StaticAttr> + '_ {
        // SAFETY: the first `n_attrs` entries were written by `push_attribute`.
        self.attrs[..self.n_attrs as usize]
            .iter()
            .map(|a| unsafe { a.assume_init() })
    }

    /// The exporters' form. Runs on the collector thread.
    #[inline(always)]
    pub(crate) fn into_record(self) -> SpanRecord {
        let mut record = SpanRecord {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            parent_is_remote: self.parent_is_remote,
            trace_flags: self.flags,
            trace_state: TraceState::new(),
            name: Cow::Borrowed(self.name),
            kind: self.kind,
            start_time_unix_nano: super::clock::to_unix_nanos(self.start),
            end_time_unix_nano: super::clock::to_unix_nanos(self.end),
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            status: match self.status {
                STATUS_OK => Status::Ok,
                STATUS_ERROR => Status::error(""),
                _ => Status::Unset,
            },
        };
        if self.n_attrs > 0 {
            record.attributes = self
                .inline_attrs()
                .map(|a| KeyValue {
                    key: Key::from_static(a.key),
                    value: match a.value {
                        Prim::Bool(b) => Value::Bool(b),
                        Prim::I64(i) => Value::I64(i),
                        Prim::F64(f) => Value::F64(f),
                        Prim::Str(s) => Value::Str(Cow::Borrowed(s)),
                    },
                })
                .collect();
        }
        if let Some(extra) = self.extra {
            let extra = *extra;
            if let Some(name) = extra.name {
                record.name = name;
            }
            record.attributes.extend(extra.attributes);
            record.events = extra.events;
            for e in &mut record.events {
                e.time_unix_nano = super::clock::to_unix_nanos(e.time_unix_nano);
            }
            record.links = extra.links;
            record.trace_state = extra.trace_state;
            if let (Status::Error { message }, Some(m)) = (&mut record.status, extra.status_message)
            {
                *message = m;
            }
        }
        record
    }
}
