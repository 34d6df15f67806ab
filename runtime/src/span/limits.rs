//! Span limits (OpenTelemetry's `OTEL_SPAN_*_LIMIT` and `OTEL_ATTRIBUTE_*_LIMIT`): how much
//! one span may carry. What goes over a count limit is dropped and counted (OTLP's
//! `dropped_*_count`); strings over the length limit are cut at a character boundary.

use std::borrow::Cow;

use super::{Array, KeyValue, Value};

/// How much one span may carry. The defaults are the specification's: 128 attributes, events
/// and links per span, 128 attributes per event and per link, values of any length.
///
/// ```
/// use traceweave::SpanLimits;
/// let limits = SpanLimits::default()
///     .with_attribute_value_length(Some(256))
///     .with_event_count(32);
/// assert_eq!(limits.attribute_count, 128);
///
/// let tracer = traceweave::builder().span_limits(limits).build();
/// # drop(tracer);
/// ```
///
/// New limits may be added (the struct is `#[non_exhaustive]`): start from
/// [`SpanLimits::default`] and change what you need, with the `with_*` methods or by assigning
/// the fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanLimits {
    /// Attributes per span (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`).
    pub attribute_count: u32,
    /// Characters per string value, also inside arrays, on spans, events and links
    /// (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, or `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`).
    /// `None`: no limit.
    pub attribute_value_length: Option<u32>,
    /// Events per span (`OTEL_SPAN_EVENT_COUNT_LIMIT`).
    pub event_count: u32,
    /// Links per span (`OTEL_SPAN_LINK_COUNT_LIMIT`).
    pub link_count: u32,
    /// Attributes per event (`OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`).
    pub attributes_per_event: u32,
    /// Attributes per link (`OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`).
    pub attributes_per_link: u32,
}

impl SpanLimits {
    /// The specification's defaults.
    ///
    /// ```
    /// use traceweave::SpanLimits;
    /// assert_eq!(SpanLimits::DEFAULT.attribute_count, 128);
    /// assert_eq!(SpanLimits::DEFAULT.attribute_value_length, None);
    /// ```
    pub const DEFAULT: SpanLimits = SpanLimits {
        attribute_count: 128,
        attribute_value_length: None,
        event_count: 128,
        link_count: 128,
        attributes_per_event: 128,
        attributes_per_link: 128,
    };
}

impl SpanLimits {
    /// These limits with `n` attributes per span.
    ///
    /// ```
    /// use traceweave::SpanLimits;
    /// let limits = SpanLimits::DEFAULT.with_attribute_count(32);
    /// let tracer = traceweave::builder().ignore_env().span_limits(limits).build();
    /// # drop(tracer);
    /// ```
    pub const fn with_attribute_count(mut self, n: u32) -> Self {
        self.attribute_count = n;
        self
    }

    /// These limits with string values cut to `chars` characters (`None`: no limit).
    ///
    /// ```
    /// use traceweave::SpanLimits;
    /// let limits = SpanLimits::DEFAULT.with_attribute_value_length(Some(8));
    /// let spans = traceweave::testing::Capture::new()
    ///     .span_limits(limits)
    ///     .run(|| traceweave::span("s").attribute("sql", "SELECT * FROM orders").start().end())
    ///     .spans;
    /// assert_eq!(spans.0[0].attribute("sql").unwrap().as_str(), Some("SELECT *"));
    /// ```
    pub const fn with_attribute_value_length(mut self, chars: Option<u32>) -> Self {
        self.attribute_value_length = chars;
        self
    }

    /// These limits with `n` events per span.
    ///
    /// ```
    /// use traceweave::SpanLimits;
    /// let limits = SpanLimits::DEFAULT.with_event_count(1);
    /// let spans = traceweave::testing::Capture::new()
    ///     .span_limits(limits)
    ///     .run(|| {
    ///         let mut s = traceweave::span("s").start();
    ///         s.add_event("a", vec![]);
    ///         s.add_event("b", vec![]);
    ///     })
    ///     .spans;
    /// assert_eq!((spans.0[0].events.len(), spans.0[0].dropped_events_count), (1, 1));
    /// ```
    pub const fn with_event_count(mut self, n: u32) -> Self {
        self.event_count = n;
        self
    }

    /// These limits with `n` links per span.
    ///
    /// ```
    /// use traceweave::SpanLimits;
    /// let limits = SpanLimits::DEFAULT.with_link_count(16);
    /// assert_eq!(limits.link_count, 16);
    /// ```
    pub const fn with_link_count(mut self, n: u32) -> Self {
        self.link_count = n;
        self
    }

    /// These limits with `n` attributes per event.
    ///
    /// ```
    /// use traceweave::SpanLimits;
    /// let limits = SpanLimits::DEFAULT.with_attributes_per_event(4);
    /// assert_eq!(limits.attributes_per_event, 4);
    /// ```
    pub const fn with_attributes_per_event(mut self, n: u32) -> Self {
        self.attributes_per_event = n;
        self
    }

    /// These limits with `n` attributes per link.
    ///
    /// ```
    /// use traceweave::SpanLimits;
    /// let limits = SpanLimits::DEFAULT.with_attributes_per_link(4);
    /// assert_eq!(limits.attributes_per_link, 4);
    /// ```
    pub const fn with_attributes_per_link(mut self, n: u32) -> Self {
        self.attributes_per_link = n;
        self
    }
}

impl Default for SpanLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The most characters a value formatted for a span (an argument's or return value's `Debug` or
/// `Display`, a `tracing` field, an error's text) may take when no `attribute_value_length` is
/// set: formatting stops there, so a value whose `Debug` runs to 100 MB costs 16 Ki characters,
/// not 100 MB.
///
/// ```
/// // A Debug impl that would write a megabyte stops at the cap.
/// #[traceweave::traced(args(?payload))]
/// fn upload(payload: &[u8]) {}
///
/// let huge = vec![0u8; 1 << 20];
/// let spans = traceweave::testing::capture(|| upload(&huge));
/// let text = spans.0[0].attribute("payload").unwrap().as_str().unwrap();
/// assert!(text.chars().count() <= traceweave::FORMATTED_VALUE_CAP as usize);
/// ```
pub const FORMATTED_VALUE_CAP: u32 = 16 * 1024;

/// `args` formatted into a string of at most `limit` characters (or [`FORMATTED_VALUE_CAP`]):
/// the writer refuses the rest, so the formatting stops instead of producing it.
pub(crate) fn format_bounded(args: std::fmt::Arguments<'_>, limit: Option<u32>) -> String {
    struct Bounded {
        out: String,
        left: usize,
    }
    impl std::fmt::Write for Bounded {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            if s.len() <= self.left {
                // At most `left` bytes: at most `left` characters.
                self.out.push_str(s);
                self.left -= s.chars().count();
                return Ok(());
            }
            match s.char_indices().nth(self.left) {
                Some((end, _)) => {
                    self.out.push_str(&s[..end]);
                    self.left = 0;
                    Err(std::fmt::Error) // the formatter stops here
                }
                None => {
                    self.out.push_str(s);
                    self.left -= s.chars().count();
                    Ok(())
                }
            }
        }
    }
    let left = limit.unwrap_or(FORMATTED_VALUE_CAP) as usize;
    if left == 0 {
        return String::new();
    }
    let mut w = Bounded {
        out: String::new(),
        left,
    };
    let _ = std::fmt::write(&mut w, args);
    w.out
}

/// The byte length of the first `max` characters of `s`, if `s` is longer.
#[inline]
fn cut_at(s: &str, max: u32) -> Option<usize> {
    let max = max as usize;
    // A string of at most `max` bytes has at most `max` characters.
    if s.len() <= max {
        return None;
    }
    s.char_indices().nth(max).map(|(i, _)| i)
}

/// `s` cut to at most `max` characters; a borrowed string stays borrowed.
pub(crate) fn truncate_str(s: &mut Cow<'static, str>, max: u32) {
    if let Some(end) = cut_at(s, max) {
        match s {
            Cow::Borrowed(b) => *b = &b[..end],
            Cow::Owned(o) => o.truncate(end),
        }
    }
}

/// Applies the value length limit to one value (strings and string arrays).
#[inline]
pub(crate) fn truncate_value(value: &mut Value, max: Option<u32>) {
    let Some(max) = max else { return };
    match value {
        Value::Str(s) => truncate_str(s, max),
        Value::Array(Array::Str(items)) => {
            for s in items {
                truncate_str(s, max);
            }
        }
        _ => {}
    }
}

/// Makes an attribute list fit the limits: values cut to length, a repeated key keeps its last
/// value (in the place of its first), at most `max` attributes. Returns how many were dropped
/// for the count limit.
pub(crate) fn apply_to_list(list: &mut Vec<KeyValue>, max: u32, value_length: Option<u32>) -> u32 {
    let mut kept: Vec<KeyValue> = Vec::with_capacity(list.len().min(max as usize));
    let mut dropped = 0u32;
    for mut kv in list.drain(..) {
        truncate_value(&mut kv.value, value_length);
        if let Some(slot) = kept.iter_mut().find(|k| k.key.as_str() == kv.key.as_str()) {
            slot.value = kv.value;
        } else if kept.len() < max as usize {
            kept.push(kv);
        } else {
            dropped = dropped.saturating_add(1);
        }
    }
    *list = kept;
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_cut_at_characters_not_bytes() {
        let mut s: Cow<'static, str> = Cow::Borrowed("héllo wörld");
        truncate_str(&mut s, 4);
        assert_eq!(s, "héll");
        assert!(matches!(s, Cow::Borrowed(_)));
        let mut s: Cow<'static, str> = Cow::Owned("日本語のテキスト".into());
        truncate_str(&mut s, 3);
        assert_eq!(s, "日本語");
        let mut s: Cow<'static, str> = Cow::Borrowed("abc");
        truncate_str(&mut s, 3);
        assert_eq!(s, "abc");
        truncate_str(&mut s, 0);
        assert_eq!(s, "");
    }

    #[test]
    fn lists_keep_the_last_value_of_a_key_and_count_what_is_dropped() {
        let mut list = vec![
            KeyValue::new("a", 1i64),
            KeyValue::new("b", "long text"),
            KeyValue::new("a", 2i64),
            KeyValue::new("c", true),
            KeyValue::new("d", false),
            KeyValue::new("b", "again and again"),
        ];
        let dropped = apply_to_list(&mut list, 3, Some(4));
        assert_eq!(dropped, 1);
        assert_eq!(
            list,
            vec![
                KeyValue::new("a", 2i64),
                KeyValue::new("b", "agai"),
                KeyValue::new("c", true),
            ]
        );
    }
}
