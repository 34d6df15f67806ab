//! The compact form a span has while it is live and while it waits in a queue. Everything
//! common fits inline (ids, times, a static name, two primitive attributes with static keys);
//! everything else goes into one boxed `Extra`, allocated only when used. Exporters read it in
//! place through a [`SpanView`](super::SpanView); a [`SpanRecord`] is built only on request.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use super::limits::{SpanLimits, apply_to_list, truncate_value};
use super::{Event, Key, KeyValue, Link, SpanKind, SpanRecord, Status, Value};
use crate::context::TraceState;
use crate::id::{SpanId, TraceFlags, TraceId};
use crate::semconv;

const INLINE_ATTRS: usize = 2;

/// A primitive value that needs no allocation.
#[derive(Clone, Copy)]
pub(crate) enum Prim {
    Bool(bool),
    I64(i64),
    F64(f64),
    Str(&'static str),
}

impl Prim {
    #[inline(always)]
    fn of(value: &Value) -> Option<Prim> {
        match *value {
            Value::Bool(b) => Some(Prim::Bool(b)),
            Value::I64(i) => Some(Prim::I64(i)),
            Value::F64(f) => Some(Prim::F64(f)),
            Value::Str(Cow::Borrowed(s)) => Some(Prim::Str(s)),
            _ => None,
        }
    }

    pub(crate) fn to_value(self) -> Value {
        match self {
            Prim::Bool(b) => Value::Bool(b),
            Prim::I64(i) => Value::I64(i),
            Prim::F64(f) => Value::F64(f),
            Prim::Str(s) => Value::Str(Cow::Borrowed(s)),
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct StaticAttr {
    pub(crate) key: &'static str,
    pub(crate) value: Prim,
}

/// Where a span's code is. The same for every span of a callsite, so a span holds one pointer
/// and its `code.file.path`, `code.line.number` and `code.namespace` attributes are read out only
/// when it is exported (they are not counted against the attribute limit).
pub(crate) trait CodeLocation: Sync {
    fn filepath(&self) -> Option<&'static str>;
    fn lineno(&self) -> Option<u32>;
    fn namespace(&self) -> Option<&'static str>;
}

/// The `i`-th code attribute of `code`, if it has one (`i` < 3).
pub(crate) fn code_attr(code: &dyn CodeLocation, i: u8) -> Option<StaticAttr> {
    match i {
        0 => code.filepath().map(|f| StaticAttr {
            key: semconv::code::FILE_PATH,
            value: Prim::Str(f),
        }),
        1 => code.lineno().map(|l| StaticAttr {
            key: semconv::code::LINE_NUMBER,
            value: Prim::I64(i64::from(l)),
        }),
        2 => code.namespace().map(|m| StaticAttr {
            key: semconv::code::NAMESPACE,
            value: Prim::Str(m),
        }),
        _ => None,
    }
}

/// What most spans never need.
#[derive(Default)]
pub(crate) struct Extra {
    pub(crate) name: Option<Cow<'static, str>>,
    /// Attributes beyond the inline ones (all of them, once any did not fit inline).
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) events: Vec<Event>,
    pub(crate) links: Vec<Link>,
    pub(crate) status_message: Option<Cow<'static, str>>,
    pub(crate) trace_state: TraceState,
    /// The trace id as a SkyWalking agent spelled it (not our hex form), for the SkyWalking
    /// exporter.
    pub(crate) sw8_trace_id: Option<std::sync::Arc<str>>,
    /// The extracted `sw8` this span continues (its remote parent), for the SkyWalking
    /// exporter's `CrossProcess` reference.
    pub(crate) sw8_parent: Option<std::sync::Arc<crate::context::Sw8Parent>>,
    pub(crate) dropped_attributes: u32,
    pub(crate) dropped_events: u32,
    pub(crate) dropped_links: u32,
}

pub(crate) const STATUS_UNSET: u8 = 0;
pub(crate) const STATUS_OK: u8 = 1;
pub(crate) const STATUS_ERROR: u8 = 2;

pub(crate) struct RawSpan {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_span_id: SpanId,
    /// Raw clock ticks while the span lives and waits in a queue; Unix nanoseconds once the
    /// collector has sealed it (as are its events' times).
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) name: &'static str,
    pub(crate) kind: SpanKind,
    pub(crate) flags: TraceFlags,
    pub(crate) parent_is_remote: bool,
    pub(crate) status: u8,
    n_attrs: u8,
    attrs: [MaybeUninit<StaticAttr>; INLINE_ATTRS],
    pub(crate) code: Option<&'static dyn CodeLocation>,
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
            code: None,
            extra: None,
        }
    }

    #[inline]
    pub(crate) fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// The inline attributes.
    #[inline]
    pub(crate) fn inline_attrs(&self) -> &[StaticAttr] {
        let n = (self.n_attrs as usize).min(INLINE_ATTRS);
        // SAFETY: `MaybeUninit<T>` has `T`'s layout, and the first `n_attrs` entries were
        // written by `push_attribute` (which only ever raises `n_attrs` after writing, and
        // `spill` lowers it to 0 after reading them).
        unsafe { std::slice::from_raw_parts(self.attrs.as_ptr().cast::<StaticAttr>(), n) }
    }

    /// Sets an attribute within `limits`: a key set before gets the new value in its place;
    /// a new key beyond the count limit is dropped and counted. Inline while the attribute is
    /// primitive with a static key and nothing has spilled yet (so the order of attributes is
    /// the order they were first set in).
    #[inline]
    pub(crate) fn push_attribute(&mut self, key: Key, mut value: Value, limits: &SpanLimits) {
        if limits.attribute_value_length.is_some() {
            truncate_value(&mut value, limits.attribute_value_length);
        }
        if self.extra.as_ref().is_none_or(|e| e.attributes.is_empty())
            && let Some(key) = key.as_static()
            && let Some(prim) = Prim::of(&value)
        {
            let n = self.n_attrs as usize;
            if let Some(i) = (0..n).find(|&i| self.inline_attrs()[i].key == key) {
                self.attrs[i] = MaybeUninit::new(StaticAttr { key, value: prim });
                return;
            }
            if n < INLINE_ATTRS && (n as u32) < limits.attribute_count {
                self.attrs[n] = MaybeUninit::new(StaticAttr { key, value: prim });
                self.n_attrs += 1;
                return;
            }
        }
        self.push_attribute_slow(key, value, limits);
    }

    #[inline(never)]
    fn push_attribute_slow(&mut self, key: Key, value: Value, limits: &SpanLimits) {
        self.spill();
        let extra = self.extra();
        if let Some(kv) = extra.attributes.iter_mut().find(|kv| kv.key == key) {
            kv.value = value;
        } else if extra.attributes.len() < limits.attribute_count as usize {
            extra.attributes.push(KeyValue { key, value });
        } else {
            extra.dropped_attributes = extra.dropped_attributes.saturating_add(1);
        }
    }

    /// Moves the inline attributes to the front of `extra.attributes`.
    fn spill(&mut self) {
        if self.n_attrs == 0 {
            return;
        }
        let inline: Vec<KeyValue> = (self.inline_attrs().iter())
            .map(|a| KeyValue {
                key: Key::from_static(a.key),
                value: a.value.to_value(),
            })
            .collect();
        self.n_attrs = 0;
        let attributes = &mut self.extra().attributes;
        attributes.splice(0..0, inline);
    }

    /// Adds an event within `limits` (its time in raw ticks).
    pub(crate) fn push_event(&mut self, mut event: Event, limits: &SpanLimits) {
        let extra = self.extra();
        if push_limited(&extra.events, &mut extra.dropped_events, limits.event_count) {
            event.dropped_attributes_count += fit_list(
                &mut event.attributes,
                limits.attributes_per_event,
                limits.attribute_value_length,
            );
            extra.events.push(event);
        }
    }

    /// Adds a link within `limits`.
    pub(crate) fn push_link(&mut self, mut link: Link, limits: &SpanLimits) {
        let extra = self.extra();
        if push_limited(&extra.links, &mut extra.dropped_links, limits.link_count) {
            link.dropped_attributes_count += fit_list(
                &mut link.attributes,
                limits.attributes_per_link,
                limits.attribute_value_length,
            );
            extra.links.push(link);
        }
    }

    /// Turns clock ticks into Unix nanoseconds (the span's and its events'). Runs once, on the
    /// collector thread, before exporters see the span.
    #[inline]
    pub(crate) fn seal(&mut self) {
        self.start = super::clock::to_unix_nanos(self.start);
        self.end = super::clock::to_unix_nanos(self.end);
        if let Some(extra) = &mut self.extra {
            for e in &mut extra.events {
                e.time_unix_nano = super::clock::to_unix_nanos(e.time_unix_nano);
            }
        }
    }

    /// The status, borrowing its message.
    pub(crate) fn status(&self) -> super::StatusRef<'_> {
        match self.status {
            STATUS_OK => super::StatusRef::Ok,
            STATUS_ERROR => super::StatusRef::Error(
                self.extra
                    .as_ref()
                    .and_then(|e| e.status_message.as_deref())
                    .unwrap_or(""),
            ),
            _ => super::StatusRef::Unset,
        }
    }

    /// The exporters' owned form of a sealed span.
    pub(crate) fn to_record(&self) -> SpanRecord {
        let mut record = SpanRecord {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            parent_is_remote: self.parent_is_remote,
            trace_flags: self.flags,
            trace_state: TraceState::new(),
            name: Cow::Borrowed(self.name),
            kind: self.kind,
            start_time_unix_nano: self.start,
            end_time_unix_nano: self.end,
            attributes: (self.inline_attrs().iter())
                .map(|a| KeyValue {
                    key: Key::from_static(a.key),
                    value: a.value.to_value(),
                })
                .collect(),
            events: Vec::new(),
            links: Vec::new(),
            status: match self.status {
                STATUS_OK => Status::Ok,
                STATUS_ERROR => Status::error(""),
                _ => Status::Unset,
            },
            dropped_attributes_count: 0,
            dropped_events_count: 0,
            dropped_links_count: 0,
            sw8_trace_id: None,
            sw8_parent: None,
        };
        if let Some(extra) = &self.extra {
            record.sw8_trace_id = extra.sw8_trace_id.clone();
            record.sw8_parent = extra.sw8_parent.clone();
            if let Some(name) = &extra.name {
                record.name = name.clone();
            }
            record.attributes.extend(extra.attributes.iter().cloned());
            record.events = extra.events.clone();
            record.links = extra.links.clone();
            record.trace_state = extra.trace_state.clone();
            if let (Status::Error { message }, Some(m)) =
                (&mut record.status, &extra.status_message)
            {
                *message = m.clone();
            }
            record.dropped_attributes_count = extra.dropped_attributes;
            record.dropped_events_count = extra.dropped_events;
            record.dropped_links_count = extra.dropped_links;
        }
        if let Some(code) = self.code {
            record
                .attributes
                .extend((0..3).filter_map(|i| code_attr(code, i)).map(|a| KeyValue {
                    key: Key::from_static(a.key),
                    value: a.value.to_value(),
                }));
        }
        record
    }
}

/// Whether a list with `max` entries at most has room for one more; counts a drop if not.
fn push_limited<T>(list: &[T], dropped: &mut u32, max: u32) -> bool {
    let room = list.len() < max as usize;
    if !room {
        *dropped = dropped.saturating_add(1);
    }
    room
}

/// [`apply_to_list`] when the list needs it: most lists are short, unique and unlimited.
fn fit_list(list: &mut Vec<KeyValue>, max: u32, value_length: Option<u32>) -> u32 {
    let unique = || {
        (1..list.len()).all(|i| {
            let key = list[i].key.as_str();
            list[..i].iter().all(|kv| kv.key.as_str() != key)
        })
    };
    if value_length.is_none() && list.len() <= max as usize && unique() {
        return 0;
    }
    apply_to_list(list, max, value_length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{SpanBatch, ValueRef};

    struct Here;

    impl CodeLocation for Here {
        fn filepath(&self) -> Option<&'static str> {
            Some("src/orders.rs")
        }
        fn lineno(&self) -> Option<u32> {
            None
        }
        fn namespace(&self) -> Option<&'static str> {
            Some("shop::orders")
        }
    }

    #[test]
    fn a_code_location_reads_out_as_attributes_after_the_others() {
        static HERE: Here = Here;
        let mut raw = RawSpan::new(
            "load",
            SpanKind::Internal,
            TraceId::from_u128(1),
            SpanId::from_u64(2),
            SpanId::INVALID,
            false,
            TraceFlags::SAMPLED,
            0,
        );
        raw.push_attribute(
            Key::from_static("order.id"),
            Value::I64(7),
            &SpanLimits::default(),
        );
        raw.code = Some(&HERE);
        let want = [
            ("order.id", ValueRef::I64(7)),
            ("code.file.path", ValueRef::Str("src/orders.rs")),
            ("code.namespace", ValueRef::Str("shop::orders")),
        ];
        let spans = [raw];
        let batch = SpanBatch::from_raw(&spans);
        let view = batch.iter().next().unwrap();
        let attrs = view.attributes();
        assert_eq!(attrs.len(), 3);
        assert_eq!(attrs.collect::<Vec<_>>(), want);
        let record = spans[0].to_record();
        let keys: Vec<_> = record.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["order.id", "code.file.path", "code.namespace"]);
    }
}
