//! Trace and span identifiers, trace flags, and the thread-local id generator.

use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// A 128-bit trace identifier. The all-zero value is invalid and is never generated.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
///
/// ```
/// use traceweave::TraceId;
/// let id = TraceId::from_u128(0x4bf92f3577b34da6a3ce929d0e0e4736);
/// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(id.is_valid() && !TraceId::from_u128(0).is_valid());
/// assert_eq!(TraceId::from_bytes(id.to_bytes()), id);
/// ```
pub struct TraceId(u128);

impl TraceId {
    /// The invalid, all-zero trace id.
    ///
    /// ```
    /// use traceweave::TraceId;
    /// assert_eq!(TraceId::default(), TraceId::INVALID);
    /// assert!(!TraceId::INVALID.is_valid());
    /// ```
    pub const INVALID: TraceId = TraceId(0);

    /// Builds a trace id from its integer value.
    ///
    /// ```
    /// use traceweave::TraceId;
    /// let id = TraceId::from_u128(0x4bf92f3577b34da6a3ce929d0e0e4736);
    /// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// ```
    pub const fn from_u128(value: u128) -> Self {
        TraceId(value)
    }

    /// Builds a trace id from its 16 big-endian bytes, as they appear on the wire.
    ///
    /// ```
    /// use traceweave::TraceId;
    /// let mut wire = [0u8; 16];
    /// wire[15] = 1; // the last byte on the wire is the lowest
    /// assert_eq!(TraceId::from_bytes(wire), TraceId::from_u128(1));
    /// ```
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        TraceId(u128::from_be_bytes(bytes))
    }

    /// The integer value.
    ///
    /// ```
    /// use traceweave::TraceId;
    /// assert_eq!(TraceId::from_u128(42).to_u128(), 42);
    /// ```
    pub const fn to_u128(self) -> u128 {
        self.0
    }

    /// The 16 big-endian bytes, as they appear on the wire.
    ///
    /// ```
    /// use traceweave::TraceId;
    /// assert_eq!(TraceId::from_u128(1).to_bytes()[15], 1);
    /// ```
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// Whether this id is not all zeros.
    ///
    /// ```
    /// use traceweave::TraceId;
    /// assert!(TraceId::from_u128(1).is_valid());
    /// assert!(!TraceId::from_u128(0).is_valid());
    /// ```
    pub const fn is_valid(self) -> bool {
        self.0 != 0
    }

    /// A fresh random trace id from the calling thread's generator; never zero.
    ///
    /// ```
    /// use traceweave::TraceId;
    /// let (a, b) = (TraceId::random(), TraceId::random());
    /// assert!(a.is_valid() && a != b);
    /// ```
    pub fn random() -> Self {
        TraceId(random_u128())
    }
}

/// Lowercase hex, 32 characters: the W3C and OTLP-JSON form.
impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

/// A 64-bit span identifier. The all-zero value is invalid and is never generated.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
///
/// ```
/// use traceweave::SpanId;
/// let id = SpanId::from_u64(0x00f067aa0ba902b7);
/// assert_eq!(id.to_string(), "00f067aa0ba902b7");
/// assert_eq!(SpanId::from_bytes(id.to_bytes()), id);
/// ```
pub struct SpanId(u64);

impl SpanId {
    /// The invalid, all-zero span id (also "no parent").
    ///
    /// ```
    /// use traceweave::SpanId;
    /// assert_eq!(SpanId::default(), SpanId::INVALID);
    /// assert!(!SpanId::INVALID.is_valid());
    /// ```
    pub const INVALID: SpanId = SpanId(0);

    /// Builds a span id from its integer value.
    ///
    /// ```
    /// use traceweave::SpanId;
    /// assert_eq!(SpanId::from_u64(0xf067aa0ba902b7).to_string(), "00f067aa0ba902b7");
    /// ```
    pub const fn from_u64(value: u64) -> Self {
        SpanId(value)
    }

    /// Builds a span id from its 8 big-endian bytes.
    ///
    /// ```
    /// use traceweave::SpanId;
    /// assert_eq!(SpanId::from_bytes([0, 0, 0, 0, 0, 0, 0, 7]), SpanId::from_u64(7));
    /// ```
    pub const fn from_bytes(bytes: [u8; 8]) -> Self {
        SpanId(u64::from_be_bytes(bytes))
    }

    /// The integer value.
    ///
    /// ```
    /// use traceweave::SpanId;
    /// assert_eq!(SpanId::from_u64(7).to_u64(), 7);
    /// ```
    pub const fn to_u64(self) -> u64 {
        self.0
    }

    /// The 8 big-endian bytes.
    ///
    /// ```
    /// use traceweave::SpanId;
    /// assert_eq!(SpanId::from_u64(7).to_bytes(), [0, 0, 0, 0, 0, 0, 0, 7]);
    /// ```
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Whether this id is not all zeros.
    ///
    /// ```
    /// use traceweave::SpanId;
    /// assert!(SpanId::from_u64(1).is_valid() && !SpanId::from_u64(0).is_valid());
    /// ```
    pub const fn is_valid(self) -> bool {
        self.0 != 0
    }

    /// A fresh random span id from the calling thread's generator; never zero.
    ///
    /// ```
    /// use traceweave::SpanId;
    /// assert!(SpanId::random().is_valid());
    /// ```
    pub fn random() -> Self {
        SpanId(random_u64())
    }
}

/// Lowercase hex, 16 characters.
impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// The W3C trace flags byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
///
/// ```
/// use traceweave::TraceFlags;
/// let flags = TraceFlags::from_u8(0x01);
/// assert!(flags.is_sampled());
/// assert!(!flags.with_sampled(false).is_sampled());
/// ```
pub struct TraceFlags(u8);

impl TraceFlags {
    /// The span is sampled: its data is recorded and exported.
    ///
    /// ```
    /// use traceweave::TraceFlags;
    /// assert!(TraceFlags::SAMPLED.is_sampled());
    /// assert_eq!(TraceFlags::SAMPLED.to_u8(), 0x01);
    /// ```
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);
    /// W3C Trace Context Level 2: the trace id's right-most 7 bytes are random.
    ///
    /// ```
    /// use traceweave::TraceFlags;
    /// assert!(TraceFlags::RANDOM_TRACE_ID.is_random_trace_id());
    /// assert!(!TraceFlags::RANDOM_TRACE_ID.is_sampled());
    /// ```
    pub const RANDOM_TRACE_ID: TraceFlags = TraceFlags(0x02);
    /// No flag set.
    ///
    /// ```
    /// use traceweave::TraceFlags;
    /// assert_eq!(TraceFlags::NONE.to_u8(), 0);
    /// ```
    pub const NONE: TraceFlags = TraceFlags(0);

    /// Builds flags from the wire byte. Bits we do not know are kept here; encoders mask them.
    ///
    /// ```
    /// use traceweave::TraceFlags;
    /// // The flags byte of `traceparent: 00-...-...-03`.
    /// let flags = TraceFlags::from_u8(0x03);
    /// assert!(flags.is_sampled() && flags.is_random_trace_id());
    /// ```
    pub const fn from_u8(bits: u8) -> Self {
        TraceFlags(bits)
    }

    /// The wire byte.
    ///
    /// ```
    /// use traceweave::TraceFlags;
    /// assert_eq!(TraceFlags::SAMPLED.union(TraceFlags::RANDOM_TRACE_ID).to_u8(), 0x03);
    /// ```
    pub const fn to_u8(self) -> u8 {
        self.0
    }

    /// Whether the sampled bit is set.
    ///
    /// ```
    /// use traceweave::TraceFlags;
    /// assert!(TraceFlags::from_u8(0x01).is_sampled());
    /// assert!(!TraceFlags::from_u8(0x02).is_sampled());
    /// ```
    pub const fn is_sampled(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// Whether the random-trace-id bit is set.
    ///
    /// ```
    /// use traceweave::TraceFlags;
    /// assert!(TraceFlags::from_u8(0x02).is_random_trace_id());
    /// ```
    pub const fn is_random_trace_id(self) -> bool {
        self.0 & 0x02 != 0
    }

    /// These flags with the sampled bit set or cleared.
    ///
    /// ```
    /// use traceweave::TraceFlags;
    /// let flags = TraceFlags::RANDOM_TRACE_ID.with_sampled(true);
    /// assert_eq!(flags.to_u8(), 0x03);
    /// assert_eq!(flags.with_sampled(false).to_u8(), 0x02);
    /// ```
    #[must_use]
    pub const fn with_sampled(self, sampled: bool) -> Self {
        if sampled {
            TraceFlags(self.0 | 0x01)
        } else {
            TraceFlags(self.0 & !0x01)
        }
    }

    /// The union of two flag sets.
    ///
    /// ```
    /// use traceweave::TraceFlags;
    /// let both = TraceFlags::SAMPLED.union(TraceFlags::RANDOM_TRACE_ID);
    /// assert!(both.is_sampled() && both.is_random_trace_id());
    /// ```
    #[must_use]
    pub const fn union(self, other: TraceFlags) -> Self {
        TraceFlags(self.0 | other.0)
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceFlags({:02x})", self.0)
    }
}

thread_local! {
    // 0 means "not seeded yet"; the generator never stores 0 after seeding.
    static RNG: Cell<u64> = const { Cell::new(0) };
}

#[cold]
fn seed() -> u64 {
    // RandomState is seeded from the OS once per thread; mix in the thread's identity and the
    // clock so two threads never share a stream.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.write(format!("{:?}", std::thread::current().id()).as_bytes());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish() | 1
}

/// Makes this thread's next id reseed (in a forked child, whose copy of the state is the
/// parent's; the seed mixes in the process id and the clock). Async-signal-safe: a
/// const-initialised thread-local without a destructor.
pub(crate) fn forget_seed() {
    RNG.with(|state| state.set(0));
}

/// wyrand: a fast, statistically good 64-bit generator (not for cryptography).
#[inline]
pub(crate) fn random_u64() -> u64 {
    RNG.with(|state| {
        let mut s = state.get();
        if s == 0 {
            s = seed();
        }
        loop {
            s = s.wrapping_add(0xa076_1d64_78bd_642f);
            let t = (s as u128).wrapping_mul((s ^ 0xe703_7ed1_a0b4_28db) as u128);
            let out = ((t >> 64) as u64) ^ (t as u64);
            if out != 0 {
                state.set(s);
                return out;
            }
        }
    })
}

#[inline]
pub(crate) fn random_u128() -> u128 {
    ((random_u64() as u128) << 64) | random_u64() as u128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_zero_and_differ() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let s = SpanId::random();
            assert!(s.is_valid());
            assert!(seen.insert(s));
            assert!(TraceId::random().is_valid());
        }
    }

    #[test]
    fn threads_get_different_streams() {
        let a = std::thread::spawn(|| (0..4).map(|_| random_u64()).collect::<Vec<_>>());
        let b = std::thread::spawn(|| (0..4).map(|_| random_u64()).collect::<Vec<_>>());
        assert_ne!(a.join().unwrap(), b.join().unwrap());
    }

    #[test]
    fn hex_forms() {
        assert_eq!(
            TraceId::from_u128(0xabc).to_string(),
            "00000000000000000000000000000abc"
        );
        assert_eq!(SpanId::from_u64(0x1f).to_string(), "000000000000001f");
        let t = TraceId::from_bytes([1; 16]);
        assert_eq!(t.to_bytes(), [1; 16]);
    }

    #[test]
    fn flags() {
        let f = TraceFlags::from_u8(0x03);
        assert!(f.is_sampled() && f.is_random_trace_id());
        assert!(!f.with_sampled(false).is_sampled());
        assert!(f.with_sampled(false).is_random_trace_id());
    }
}
