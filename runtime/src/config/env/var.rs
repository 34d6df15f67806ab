//! One way to read an environment variable: unset and empty (after trimming) are the same, a
//! value is parsed as a type that knows what it accepts, and a value that cannot be used is named
//! in one warning that says what was expected and what is used instead; a value past its maximum
//! is clamped, with a warning, in the same place.

use std::fmt::Display;
use std::time::Duration;

/// A type a variable's text can hold.
pub(crate) trait EnvValue: Sized {
    /// What a valid value looks like, for the warning ("a positive integer").
    const EXPECTED: &'static str;
    /// The value, or `None` when the text is not one.
    fn parse(text: &str) -> Option<Self>;
}

impl EnvValue for bool {
    const EXPECTED: &'static str = "true or false";
    fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("true") {
            Some(true)
        } else if text.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        }
    }
}

/// A count that may be zero (a limit of 0 keeps nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Count(pub(crate) u64);

impl EnvValue for Count {
    const EXPECTED: &'static str = "a non-negative integer";
    fn parse(text: &str) -> Option<Self> {
        text.parse().ok().map(Count)
    }
}

/// A positive integer (a size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Positive(pub(crate) usize);

impl EnvValue for Positive {
    const EXPECTED: &'static str = "a positive integer";
    fn parse(text: &str) -> Option<Self> {
        text.parse().ok().filter(|n| *n > 0).map(Positive)
    }
}

/// A positive number of milliseconds (a delay or a timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Millis(pub(crate) Duration);

impl EnvValue for Millis {
    const EXPECTED: &'static str = "a positive number of milliseconds";
    fn parse(text: &str) -> Option<Self> {
        let ms: u64 = text.parse().ok().filter(|n| *n > 0)?;
        Some(Millis(Duration::from_millis(ms)))
    }
}

/// A sampling ratio, 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub(crate) struct Ratio(pub(crate) f64);

impl EnvValue for Ratio {
    const EXPECTED: &'static str = "a ratio between 0 and 1";
    fn parse(text: &str) -> Option<Self> {
        let r: f64 = text.parse().ok()?;
        (0.0..=1.0).contains(&r).then_some(Ratio(r))
    }
}

/// A rate of traces per second: finite, not negative.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub(crate) struct Rate(pub(crate) f64);

impl EnvValue for Rate {
    const EXPECTED: &'static str = "a rate of traces per second";
    fn parse(text: &str) -> Option<Self> {
        let r: f64 = text.parse().ok()?;
        (r >= 0.0 && r.is_finite()).then_some(Rate(r))
    }
}

/// The variables as one reader sees them, and the warnings it has written.
pub(crate) struct Vars<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    pub(crate) warnings: Vec<String>,
}

impl<'a> Vars<'a> {
    pub(crate) fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Vars {
            get,
            warnings: Vec::new(),
        }
    }

    /// The variable's text, trimmed; `None` when unset or empty.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        (self.get)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Notes a value that cannot be used, or another problem the user should hear of at `init`.
    pub(crate) fn warn(&mut self, line: String) {
        self.warnings.push(line);
    }

    /// The variable as a `T`. A value that is not one warns (`NAME="x" is not a positive
    /// integer; using 512`) and reads as unset, so the caller's default applies.
    pub(crate) fn var<T: EnvValue>(&mut self, name: &str, fallback: impl Display) -> Option<T> {
        let text = self.text(name)?;
        let value = T::parse(&text);
        if value.is_none() {
            self.warn(format!(
                "{name}={text:?} is not {}; using {fallback}",
                T::EXPECTED
            ));
        }
        value
    }

    /// [`var`](Self::var), clamped to `max` with a warning (a typo such as `1e9` queue slots
    /// must not abort the process on allocation).
    pub(crate) fn var_at_most<T: EnvValue + PartialOrd + Copy>(
        &mut self,
        name: &str,
        fallback: impl Display,
        max: T,
        shown: impl Fn(T) -> String,
    ) -> Option<T> {
        let value = self.var::<T>(name, fallback)?;
        if value > max {
            self.warn(format!(
                "{name}={} is larger than the maximum; using {}",
                shown(value),
                shown(max)
            ));
            return Some(max);
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn one_reader_for_every_type_with_one_warning_each() {
        let get = vars(&[
            ("B", " TRUE "),
            ("BAD_B", "yes"),
            ("N", "0"),
            ("P", "0"),
            ("MS", "250"),
            ("R", "1.5"),
            ("EMPTY", "  "),
            ("BIG", "1000000000"),
        ]);
        let mut v = Vars::new(&get);
        assert_eq!(v.var::<bool>("B", false), Some(true));
        assert_eq!(v.var::<bool>("BAD_B", false), None);
        assert_eq!(v.var::<Count>("N", "the default"), Some(Count(0)));
        assert_eq!(v.var::<Positive>("P", 512), None);
        assert_eq!(
            v.var::<Millis>("MS", 10_000),
            Some(Millis(Duration::from_millis(250)))
        );
        assert_eq!(v.var::<Ratio>("R", 1.0), None);
        assert_eq!(v.var::<Positive>("EMPTY", 1), None);
        assert_eq!(v.var::<Positive>("UNSET", 1), None);
        assert_eq!(
            v.var_at_most("BIG", 512, Positive(1 << 16), |p| p.0.to_string()),
            Some(Positive(1 << 16))
        );
        assert_eq!(
            v.warnings,
            [
                "BAD_B=\"yes\" is not true or false; using false",
                "P=\"0\" is not a positive integer; using 512",
                "R=\"1.5\" is not a ratio between 0 and 1; using 1",
                "BIG=1000000000 is larger than the maximum; using 65536",
            ]
        );
    }
}
