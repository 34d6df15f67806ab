//! W3C `tracestate`: vendor key/value pairs that travel with a trace.

use std::fmt;
use std::sync::Arc;

/// Why a tracestate key, value or header was refused.
///
/// ```
/// use traceweave::{TraceState, TraceStateError};
/// assert!(matches!(TraceState::parse("Upper=1"), Err(TraceStateError::InvalidKey(_))));
/// assert!(matches!(TraceState::parse("k=a,b"), Err(TraceStateError::InvalidMember(_))));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceStateError {
    /// A key outside `[a-z0-9][a-z0-9_\-*/@]{0,255}` (or the `tenant@system` form).
    InvalidKey(String),
    /// A value with `,`, `=`, a non-printable character, a trailing space, or over 256 chars.
    InvalidValue(String),
    /// A member without `=`.
    InvalidMember(String),
    /// More than 32 members.
    TooManyMembers(usize),
}

impl fmt::Display for TraceStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceStateError::InvalidKey(k) => write!(f, "invalid tracestate key {k:?}"),
            TraceStateError::InvalidValue(v) => write!(f, "invalid tracestate value {v:?}"),
            TraceStateError::InvalidMember(m) => {
                write!(f, "invalid tracestate member {m:?}: expected key=value")
            }
            TraceStateError::TooManyMembers(n) => {
                write!(f, "tracestate has {n} members; at most 32 are allowed")
            }
        }
    }
}

impl std::error::Error for TraceStateError {}

const MAX_MEMBERS: usize = 32;

/// An immutable, cheaply cloned W3C tracestate. Updates return a new value.
///
/// ```
/// use traceweave::TraceState;
/// let ts = TraceState::parse("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7").unwrap();
/// let ts = ts.insert("rojo", "1").unwrap();
/// assert_eq!(ts.header(), "rojo=1,congo=t61rcWkgMzE");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TraceState(Option<Arc<[(String, String)]>>);

impl TraceState {
    /// The empty tracestate.
    ///
    /// ```
    /// assert!(traceweave::TraceState::new().is_empty());
    /// ```
    pub const fn new() -> Self {
        TraceState(None)
    }

    /// Parses a header value (several headers joined with `,`). Empty members are allowed and
    /// skipped; any invalid member rejects the whole header, as the spec asks; a key given
    /// again keeps its first value (Trace Context Level 2).
    ///
    /// ```
    /// use traceweave::TraceState;
    /// let ts = TraceState::parse("vendor=a1, other=b2").unwrap();
    /// assert_eq!(ts.get("other"), Some("b2"));
    /// assert!(TraceState::parse("not a member").is_err());
    /// ```
    pub fn parse(header: &str) -> Result<Self, TraceStateError> {
        let mut members: Vec<(String, String)> = Vec::new();
        let mut count = 0usize;
        for member in header.split(',') {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            count += 1;
            if count > MAX_MEMBERS {
                return Err(TraceStateError::TooManyMembers(count));
            }
            let (key, value) = member
                .split_once('=')
                .ok_or_else(|| TraceStateError::InvalidMember(member.to_owned()))?;
            validate_key(key)?;
            validate_value(value)?;
            // At most 32 members: a linear scan is cheaper than hashing.
            if !members.iter().any(|(k, _)| k == key) {
                members.push((key.to_owned(), value.to_owned()));
            }
        }
        Ok(Self::from_members(members))
    }

    fn from_members(members: Vec<(String, String)>) -> Self {
        if members.is_empty() {
            TraceState(None)
        } else {
            TraceState(Some(members.into()))
        }
    }

    /// The value for a key.
    ///
    /// ```
    /// use traceweave::TraceState;
    /// let ts = TraceState::parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").unwrap();
    /// assert_eq!(ts.get("congo"), Some("t61rcWkgMzE"));
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// A new tracestate with `key` set to `value` and moved to the front, dropping the last
    /// member if that would exceed 32.
    ///
    /// ```
    /// use traceweave::TraceState;
    /// let ts = TraceState::parse("a=1,b=2").unwrap().insert("b", "3")?;
    /// assert_eq!(ts.header(), "b=3,a=1"); // updated members move to the front
    /// assert!(ts.insert("b", "bad,value").is_err());
    /// # Ok::<(), traceweave::TraceStateError>(())
    /// ```
    pub fn insert(&self, key: &str, value: &str) -> Result<Self, TraceStateError> {
        validate_key(key)?;
        validate_value(value)?;
        let mut members = vec![(key.to_owned(), value.to_owned())];
        members.extend(
            self.iter()
                .filter(|(k, _)| *k != key)
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        members.truncate(MAX_MEMBERS);
        Ok(Self::from_members(members))
    }

    /// A new tracestate without `key`.
    #[must_use]
    ///
    /// ```
    /// use traceweave::TraceState;
    /// let ts = TraceState::parse("a=1,b=2").unwrap().remove("a");
    /// assert_eq!(ts.header(), "b=2");
    /// ```
    pub fn remove(&self, key: &str) -> Self {
        Self::from_members(
            self.iter()
                .filter(|(k, _)| *k != key)
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    /// The members, first (most recently updated) first.
    ///
    /// ```
    /// use traceweave::TraceState;
    /// let ts = TraceState::parse("a=1,b=2").unwrap();
    /// assert_eq!(ts.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there are no members.
    ///
    /// ```
    /// use traceweave::TraceState;
    /// assert!(TraceState::parse("").unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The header value, `key=value` joined by `,`.
    ///
    /// ```
    /// use traceweave::TraceState;
    /// assert_eq!(TraceState::parse("a=1 , b=2").unwrap().header(), "a=1,b=2");
    /// ```
    pub fn header(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }
}

#[cfg(any(test, feature = "otlp-http"))]
impl TraceState {
    /// The length of [`header`](Self::header), without building it.
    pub(crate) fn header_len(&self) -> usize {
        let members: usize = self.iter().map(|(k, v)| k.len() + 1 + v.len()).sum();
        members + self.iter().count().saturating_sub(1)
    }

    /// Appends [`header`](Self::header) to `out`.
    pub(crate) fn write_header(&self, out: &mut Vec<u8>) {
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(k.as_bytes());
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
        }
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceState({:?})", self.header())
    }
}

/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"` (Trace Context Level 2).
fn is_key_char(c: u8) -> bool {
    matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@')
}

/// `key = (lcalpha / DIGIT) 0*255(keychar)`. (Level 1's `tenant@system` split is a special
/// case of it: Level 2 dropped the separate length rules for the two parts.)
fn validate_key(key: &str) -> Result<(), TraceStateError> {
    let b = key.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 256
        && matches!(b[0], b'a'..=b'z' | b'0'..=b'9')
        && b.iter().all(|&c| is_key_char(c));
    if ok {
        Ok(())
    } else {
        Err(TraceStateError::InvalidKey(key.to_owned()))
    }
}

fn validate_value(value: &str) -> Result<(), TraceStateError> {
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 256
        && b.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
        && b[b.len() - 1] != b' ';
    if ok {
        Ok(())
    } else {
        Err(TraceStateError::InvalidValue(value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_per_spec() {
        let ts = TraceState::parse("a=1, ,b@sys=2\t").unwrap();
        assert_eq!(ts.get("b@sys"), Some("2"));
        assert_eq!(ts.header(), "a=1,b@sys=2");
        assert!(TraceState::parse("A=1").is_err());
        // Level 2 keys: `@` anywhere after the first character, up to 256 characters.
        for key in [
            "foo@",
            "foo@@bar",
            "t@vvvvvvvvvvvvvvv",
            "1@2",
            &"k".repeat(256),
        ] {
            let ts = TraceState::parse(&format!("{key}=v")).unwrap();
            assert_eq!(ts.get(key), Some("v"), "{key}");
        }
        for key in ["@foo", &"k".repeat(257), "Foo", "_a", "a b", ""] {
            assert!(TraceState::parse(&format!("{key}=v,b=1")).is_err(), "{key}");
        }
        // A key given twice keeps its first value, also across joined header lines.
        assert_eq!(TraceState::parse("a=1,a=2").unwrap().header(), "a=1");
        assert_eq!(
            TraceState::parse("a=1,b=2, a=3,c=4").unwrap().header(),
            "a=1,b=2,c=4"
        );
        assert!(TraceState::parse("a=x,y").is_err());
        assert!(TraceState::parse("a=b=c").is_err());
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            TraceState::parse(&many.join(",")),
            Err(TraceStateError::TooManyMembers(33))
        );
        assert!(TraceState::parse(&many[..32].join(",")).is_ok());
    }

    #[test]
    fn insert_moves_to_front() {
        let ts = TraceState::parse("a=1,b=2")
            .unwrap()
            .insert("b", "3")
            .unwrap();
        assert_eq!(ts.header(), "b=3,a=1");
        assert!(ts.insert("b", "trailing ").is_err());
        assert_eq!(ts.remove("b").header(), "a=1");
        assert!(ts.remove("b").remove("a").is_empty());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9][a-z0-9_*/-]{0,20}",
            "[a-z0-9][a-z0-9_*/-]{0,10}@[a-z][a-z0-9_*/-]{0,10}",
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        "[!-+--<>-~]([ !-+--<>-~]{0,30}[!-+--<>-~])?"
    }

    proptest! {
        #[test]
        fn parsing_never_panics(header in "\\PC{0,300}") {
            let _ = TraceState::parse(&header);
        }

        #[test]
        fn valid_members_round_trip(members in prop::collection::vec((key(), value()), 0..32)) {
            let mut seen = std::collections::HashSet::new();
            let members: Vec<_> = members.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect();
            let header = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
            let ts = TraceState::parse(&header).unwrap();
            prop_assert_eq!(ts.header(), header.clone());
            prop_assert_eq!(TraceState::parse(&ts.header()).unwrap(), ts);
        }
    }
}
