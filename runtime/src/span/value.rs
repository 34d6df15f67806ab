//! Typed attribute values and keys.

use std::borrow::Cow;
use std::fmt;

/// An attribute key. Static names cost nothing; owned names allocate once.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
///
/// ```
/// use traceweave::Key;
/// let fixed = Key::from_static("db.system"); // no allocation
/// let built = Key::from(format!("app.{}", "tenant")); // allocates once
/// assert_eq!((fixed.as_str(), built.as_str()), ("db.system", "app.tenant"));
/// ```
pub struct Key(Cow<'static, str>);

impl Key {
    /// A key from a static string, without allocation.
    ///
    /// ```
    /// use traceweave::Key;
    /// const DB_SYSTEM: Key = Key::from_static("db.system");
    /// assert_eq!(DB_SYSTEM.as_str(), "db.system");
    /// ```
    pub const fn from_static(name: &'static str) -> Self {
        Key(Cow::Borrowed(name))
    }

    /// The key's text, if it is static.
    #[inline]
    pub(crate) fn as_static(&self) -> Option<&'static str> {
        match self.0 {
            Cow::Borrowed(s) => Some(s),
            Cow::Owned(_) => None,
        }
    }

    /// The key's text.
    ///
    /// ```
    /// assert_eq!(traceweave::Key::from("http.route").as_str(), "http.route");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&'static str> for Key {
    fn from(name: &'static str) -> Self {
        Key(Cow::Borrowed(name))
    }
}

impl From<String> for Key {
    fn from(name: String) -> Self {
        Key(Cow::Owned(name))
    }
}

impl From<Cow<'static, str>> for Key {
    fn from(name: Cow<'static, str>) -> Self {
        Key(name)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A homogeneous array value, as OpenTelemetry defines them.
#[derive(Clone, Debug, PartialEq)]
///
/// ```
/// use traceweave::{Array, Value};
/// let codes = Value::from(vec![200_i64, 404]);
/// assert_eq!(codes, Value::Array(Array::I64(vec![200, 404])));
/// ```
pub enum Array {
    /// Booleans.
    Bool(Vec<bool>),
    /// Signed 64-bit integers.
    I64(Vec<i64>),
    /// Floats.
    F64(Vec<f64>),
    /// Strings.
    Str(Vec<Cow<'static, str>>),
}

/// A typed attribute value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
///
/// ```
/// use traceweave::Value;
/// assert_eq!(Value::from(3), Value::I64(3));
/// assert_eq!(Value::from("GET").as_str(), Some("GET"));
/// assert_eq!(Value::from(vec![1_i64, 2]).as_i64(), None); // an array, not one integer
/// ```
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    I64(i64),
    /// A 64-bit float.
    F64(f64),
    /// A string; static strings are not copied.
    Str(Cow<'static, str>),
    /// A homogeneous array.
    Array(Array),
}

impl Value {
    /// The string, if this is a string value.
    ///
    /// ```
    /// use traceweave::Value;
    /// assert_eq!(Value::from("GET").as_str(), Some("GET"));
    /// assert_eq!(Value::from(3).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer value.
    ///
    /// ```
    /// use traceweave::Value;
    /// assert_eq!(Value::from(200).as_i64(), Some(200));
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean value.
    ///
    /// ```
    /// use traceweave::Value;
    /// assert_eq!(Value::from(true).as_bool(), Some(true));
    /// assert_eq!(Value::from("true").as_bool(), None);
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(v) => Some(*v),
            _ => None,
        }
    }
}

/// Plain text: strings unquoted, arrays as `[a, b]`. Used by exporters that only speak strings.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
            f.write_str("[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{item}")?;
            }
            f.write_str("]")
        }
        match self {
            Value::Bool(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::Str(v) => f.write_str(v),
            Value::Array(Array::Bool(v)) => list(f, v),
            Value::Array(Array::I64(v)) => list(f, v),
            Value::Array(Array::F64(v)) => list(f, v),
            Value::Array(Array::Str(v)) => list(f, v),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for Value {
            #[inline]
            fn from($v: $t) -> Self {
                $e
            }
        })*
    };
}

value_from! {
    bool => |v| Value::Bool(v),
    i8 => |v| Value::I64(v.into()),
    i16 => |v| Value::I64(v.into()),
    i32 => |v| Value::I64(v.into()),
    i64 => |v| Value::I64(v),
    u8 => |v| Value::I64(v.into()),
    u16 => |v| Value::I64(v.into()),
    u32 => |v| Value::I64(v.into()),
    // Values beyond i64 keep their exact digits as a string rather than wrapping.
    u64 => |v| i64::try_from(v).map(Value::I64).unwrap_or_else(|_| Value::Str(v.to_string().into())),
    usize => |v| i64::try_from(v).map(Value::I64).unwrap_or_else(|_| Value::Str(v.to_string().into())),
    isize => |v| Value::I64(v as i64),
    i128 => |v| i64::try_from(v).map(Value::I64).unwrap_or_else(|_| Value::Str(v.to_string().into())),
    u128 => |v| i64::try_from(v).map(Value::I64).unwrap_or_else(|_| Value::Str(v.to_string().into())),
    f32 => |v| Value::F64(v.into()),
    f64 => |v| Value::F64(v),
    &'static str => |v| Value::Str(Cow::Borrowed(v)),
    String => |v| Value::Str(Cow::Owned(v)),
    Cow<'static, str> => |v| Value::Str(v),
    Array => |v| Value::Array(v),
    Vec<bool> => |v| Value::Array(Array::Bool(v)),
    Vec<i64> => |v| Value::Array(Array::I64(v)),
    Vec<f64> => |v| Value::Array(Array::F64(v)),
    Vec<String> => |v| Value::Array(Array::Str(v.into_iter().map(Cow::Owned).collect())),
    Vec<&'static str> => |v| Value::Array(Array::Str(v.into_iter().map(Cow::Borrowed).collect())),
}

/// A key and its value.
///
/// ```
/// use traceweave::{KeyValue, Value};
/// let kv = KeyValue::new("retry.count", 2);
/// assert_eq!((kv.key.as_str(), &kv.value), ("retry.count", &Value::I64(2)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// The attribute's name.
    pub key: Key,
    /// The attribute's value.
    pub value: Value,
}

impl KeyValue {
    /// Builds an attribute.
    ///
    /// ```
    /// let kv = traceweave::KeyValue::new("http.response.status_code", 200);
    /// assert_eq!(kv.value, traceweave::Value::I64(200));
    /// ```
    pub fn new(key: impl Into<Key>, value: impl Into<Value>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Turns a borrowed argument into an attribute value; what `args(name)` records.
///
/// Implemented for the primitive types, strings and slices or vectors of them. For other
/// types, record their `Display` text with `args(%name)` or their `Debug` text with
/// `args(?name)`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded as a typed attribute value",
    label = "not a bool, integer, float, string or array of those",
    note = "record its Display text with `%name` or its Debug text with `?name`"
)]
///
/// ```
/// use traceweave::{ToValue, Value};
/// assert_eq!(42u16.to_value(), Value::I64(42));
/// assert_eq!("id-7".to_value(), Value::from("id-7"));
/// ```
pub trait ToValue {
    /// The attribute value for this argument.
    fn to_value(&self) -> Value;
}

macro_rules! to_value_copy {
    ($($t:ty),*) => {
        $(impl ToValue for $t {
            #[inline]
            fn to_value(&self) -> Value {
                Value::from(*self)
            }
        })*
    };
}

to_value_copy!(
    bool, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, i128, u128, f32, f64
);

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Str(Cow::Owned(self.to_owned()))
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Str(Cow::Owned(self.clone()))
    }
}

impl ToValue for Cow<'_, str> {
    fn to_value(&self) -> Value {
        Value::Str(Cow::Owned(self.to_string()))
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    #[inline]
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue + ?Sized> ToValue for &mut T {
    #[inline]
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue + ?Sized> ToValue for Box<T> {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for [T] {
    fn to_value(&self) -> Value {
        let items: Vec<Value> = self.iter().map(ToValue::to_value).collect();
        // Arrays are homogeneous; mixed content (impossible for one T) would fall back to text.
        let array = match items.first() {
            None | Some(Value::Str(_)) => Array::Str(
                items
                    .into_iter()
                    .map(|v| match v {
                        Value::Str(s) => s,
                        other => Cow::Owned(other.to_string()),
                    })
                    .collect(),
            ),
            Some(Value::Bool(_)) => Array::Bool(
                items
                    .iter()
                    .map(|v| matches!(v, Value::Bool(true)))
                    .collect(),
            ),
            Some(Value::I64(_)) => Array::I64(
                items
                    .iter()
                    .map(|v| if let Value::I64(i) = v { *i } else { 0 })
                    .collect(),
            ),
            Some(Value::F64(_)) => Array::F64(
                items
                    .iter()
                    .map(|v| if let Value::F64(x) = v { *x } else { 0.0 })
                    .collect(),
            ),
            Some(Value::Array(_)) => {
                Array::Str(items.iter().map(|v| v.to_string().into()).collect())
            }
        };
        Value::Array(array)
    }
}

impl<T: ToValue> ToValue for Vec<T> {
    fn to_value(&self) -> Value {
        self.as_slice().to_value()
    }
}

impl<T: ToValue, const N: usize> ToValue for [T; N] {
    fn to_value(&self) -> Value {
        self.as_slice().to_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_keep_types() {
        assert_eq!(Value::from(3u8), Value::I64(3));
        assert_eq!(
            Value::from(u64::MAX),
            Value::Str(u64::MAX.to_string().into())
        );
        assert_eq!(7i32.to_value(), Value::I64(7));
        assert_eq!("x".to_value(), Value::Str("x".into()));
        assert_eq!(
            vec![1i64, 2].to_value(),
            Value::Array(Array::I64(vec![1, 2]))
        );
        assert_eq!([true].to_value(), Value::Array(Array::Bool(vec![true])));
        assert_eq!(
            Value::Array(Array::Str(vec!["a".into(), "b".into()])).to_string(),
            "[a, b]"
        );
    }
}
