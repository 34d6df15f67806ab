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
    pub const INVALID: TraceId = TraceId(0);

    /// Builds a trace id from its integer value.
    pub const fn from_u128(value: u128) -> Self {
        TraceId(value)
    }

    /// Builds a trace id from its 16 big-endian bytes, as they appear on the wire.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        TraceId(u128::from_be_bytes(bytes))
    }

    /// The integer value.
    pub const fn to_u128(self) -> u128 {
        self.0
    }

    /// The 16 big-endian bytes, as they appear on the wire.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// Whether this id is not all zeros.
    pub const fn is_valid(self) -> bool {
        self.0 != 0
    }

    /// A fresh random trace id from the calling thread's generator; never zero.
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
    pub const INVALID: SpanId = SpanId(0);

    /// Builds a span id from its integer value.
    pub const fn from_u64(value: u64) -> Self {
        SpanId(value)
    }

    /// Builds a span id from its 8 big-endian bytes.
    pub const fn from_bytes(bytes: [u8; 8]) -> Self {
        SpanId(u64::from_be_bytes(bytes))
    }

    /// The integer value.
    pub const fn to_u64(self) -> u64 {
        self.0
    }

    /// The 8 big-endian bytes.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Whether this id is not all zeros.
    pub const fn is_valid(self) -> bool {
        self.0 != 0
    }

    /// A fresh random span id from the calling thread's generator; never zero.
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
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);
    /// W3C Trace Context Level 2: the trace id's right-most 7 bytes are random.
    pub const RANDOM_TRACE_ID: TraceFlags = TraceFlags(0x02);
    /// No flag set.
    pub const NONE: TraceFlags = TraceFlags(0);

    /// Builds flags from the wire byte. Bits we do not know are kept here; encoders mask them.
    pub const fn from_u8(bits: u8) -> Self {
        TraceFlags(bits)
    }

    /// The wire byte.
    pub const fn to_u8(self) -> u8 {
        self.0
    }

    /// Whether the sampled bit is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// Whether the random-trace-id bit is set.
    pub const fn is_random_trace_id(self) -> bool {
        self.0 & 0x02 != 0
    }

    /// These flags with the sampled bit set or cleared.
    #[must_use]
    pub const fn with_sampled(self, sampled: bool) -> Self {
        if sampled {
            TraceFlags(self.0 | 0x01)
        } else {
            TraceFlags(self.0 & !0x01)
        }
    }

    /// The union of two flag sets.
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
