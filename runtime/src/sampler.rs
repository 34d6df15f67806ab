//! Sampling: decided once, at the root or where a remote parent is extracted.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::context::SpanContext;
use crate::id::TraceId;
use crate::span::SpanKind;

/// What a sampler knows when it decides.
///
/// ```
/// use traceweave::{Sampler, SamplingDecision, SamplingInput};
/// /// Drops health checks, keeps the rest.
/// #[derive(Debug)]
/// struct NoHealthChecks;
/// impl Sampler for NoHealthChecks {
///     fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingDecision {
///         if input.name == "GET /health" { SamplingDecision::Drop } else { SamplingDecision::RecordAndSample }
///     }
/// }
/// let tracer = traceweave::builder().ignore_env().sampler(NoHealthChecks).build();
/// tracer.in_scope(|| {
///     traceweave::span("GET /health").start().end();
///     traceweave::span("GET /orders").start().end();
/// });
/// assert_eq!(tracer.stats().created, 1);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SamplingInput<'a> {
    /// The parent span, if any (local or remote).
    pub parent: Option<&'a SpanContext>,
    /// The trace id the new span will have.
    pub trace_id: TraceId,
    /// The new span's name.
    pub name: &'a str,
    /// The new span's kind.
    pub kind: SpanKind,
    /// A decision the caller sent without a parent span (B3's `b3: 0`, `X-B3-Sampled: 0`):
    /// `Some(false)` asks not to sample this new trace. [`ParentBased`] honours it.
    pub remote_decision: Option<bool>,
}

/// A sampling decision.
///
/// ```
/// use traceweave::{AlwaysOff, Sampler, SamplingDecision, SamplingInput, SpanKind, TraceId};
/// let input = SamplingInput {
///     parent: None,
///     trace_id: TraceId::from_u128(1),
///     name: "work",
///     kind: SpanKind::Internal,
///     remote_decision: None,
/// };
/// assert_eq!(AlwaysOff.should_sample(&input), SamplingDecision::Drop);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplingDecision {
    /// Record nothing; the context still propagates with the sampled flag cleared.
    Drop,
    /// Record the span and set the sampled flag.
    RecordAndSample,
}

/// Decides whether a new span is recorded.
///
/// ```
/// use traceweave::{Sampler, SamplingDecision, SamplingInput, SpanKind};
///
/// /// Keeps every server span, and one trace in a hundred of the rest.
/// #[derive(Debug)]
/// struct Servers;
///
/// impl Sampler for Servers {
///     fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingDecision {
///         let keep = input.kind == SpanKind::Server || input.trace_id.to_u128() % 100 == 0;
///         if keep { SamplingDecision::RecordAndSample } else { SamplingDecision::Drop }
///     }
/// }
///
/// let tracer = traceweave::builder().ignore_env().sampler(Servers).build();
/// tracer.in_scope(|| traceweave::span("handler").kind(SpanKind::Server).start().end());
/// assert_eq!(tracer.stats().created, 1);
/// ```
pub trait Sampler: Send + Sync + fmt::Debug + 'static {
    /// The decision for one span.
    fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingDecision;

    /// True when children of a *local* parent always follow the parent's sampled flag, so
    /// the runtime may skip calling the sampler for them (the hot path).
    #[doc(hidden)]
    fn follows_local_parent(&self) -> bool {
        false
    }
}

/// Samples everything.
#[derive(Debug, Clone, Copy, Default)]
///
/// ```
/// let tracer = traceweave::builder().sampler(traceweave::AlwaysOn).build();
/// # drop(tracer);
/// ```
pub struct AlwaysOn;

impl Sampler for AlwaysOn {
    fn should_sample(&self, _: &SamplingInput<'_>) -> SamplingDecision {
        SamplingDecision::RecordAndSample
    }
}

/// Samples nothing.
#[derive(Debug, Clone, Copy, Default)]
///
/// ```
/// // Nothing recorded, but contexts still propagate (with the sampled flag cleared).
/// let tracer = traceweave::builder().ignore_env().sampler(traceweave::AlwaysOff).build();
/// tracer.in_scope(|| traceweave::span("skipped").start().end());
/// assert_eq!(tracer.stats().created, 0);
/// ```
pub struct AlwaysOff;

impl Sampler for AlwaysOff {
    fn should_sample(&self, _: &SamplingInput<'_>) -> SamplingDecision {
        SamplingDecision::Drop
    }
}

/// Samples a fraction of traces, decided by the trace id alone, so every service using the
/// same ratio makes the same decision for the same trace. Uses the rule of OpenTelemetry's Go,
/// Rust and Java SDKs: the low 64 bits of the trace id, shifted right by one, below
/// `ratio * 2^63`.
#[derive(Debug, Clone, Copy)]
///
/// ```
/// use traceweave::{ParentBased, TraceIdRatio};
/// // 10 % of new traces; every service deciding by the same trace id keeps the same traces.
/// let sampler = ParentBased::new(TraceIdRatio::new(0.1));
/// assert_eq!(TraceIdRatio::new(0.1).ratio(), 0.1);
/// # drop(sampler);
/// ```
pub struct TraceIdRatio {
    ratio: f64,
    bound: u64,
}

impl TraceIdRatio {
    /// `ratio` is clamped into `[0, 1]`; NaN counts as 0.
    ///
    /// ```
    /// use traceweave::TraceIdRatio;
    /// // One trace in ten; the decision follows the trace id, so every service agrees.
    /// let sampler = TraceIdRatio::new(0.1);
    /// assert_eq!(TraceIdRatio::new(7.0).ratio(), 1.0, "clamped");
    /// # drop(sampler);
    /// ```
    pub fn new(ratio: f64) -> Self {
        let ratio = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        let bound = if ratio >= 1.0 {
            u64::MAX
        } else {
            (ratio * (1u64 << 63) as f64) as u64
        };
        TraceIdRatio { ratio, bound }
    }

    /// The configured ratio.
    ///
    /// ```
    /// use traceweave::TraceIdRatio;
    /// assert_eq!(TraceIdRatio::new(0.25).ratio(), 0.25);
    /// assert_eq!(TraceIdRatio::new(f64::NAN).ratio(), 0.0);
    /// ```
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    fn decide(&self, trace_id: TraceId) -> SamplingDecision {
        let low = trace_id.to_u128() as u64;
        if self.ratio >= 1.0 || (low >> 1) < self.bound {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::Drop
        }
    }
}

impl Sampler for TraceIdRatio {
    fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingDecision {
        self.decide(input.trace_id)
    }
}

/// At most `per_second` new traces per second, with bursts up to one second's worth, like
/// Jaeger's rate-limiting sampler. Lock-free (a single atomic, GCRA).
#[derive(Debug)]
///
/// ```
/// use traceweave::{ParentBased, RateLimiting};
/// // At most 50 new traces a second, however busy the service is.
/// let tracer = traceweave::builder().sampler(ParentBased::new(RateLimiting::new(50.0))).build();
/// # drop(tracer);
/// ```
pub struct RateLimiting {
    per_second: f64,
    interval_nanos: u64,
    burst_nanos: u64,
    /// Theoretical arrival time of the next allowed trace, in clock nanoseconds.
    tat: AtomicU64,
}

impl RateLimiting {
    /// `per_second` <= 0 samples nothing.
    ///
    /// ```
    /// use traceweave::{RateLimiting, SpanKind};
    /// let tracer = traceweave::builder().ignore_env().sampler(RateLimiting::new(2.0)).build();
    /// tracer.in_scope(|| {
    ///     for _ in 0..100 {
    ///         traceweave::span("burst").kind(SpanKind::Server).start().end();
    ///     }
    /// });
    /// assert!(tracer.stats().created <= 3, "a burst of 100 keeps about two");
    /// ```
    pub fn new(per_second: f64) -> Self {
        let per_second = if per_second.is_nan() {
            0.0
        } else {
            per_second.max(0.0)
        };
        let interval_nanos = if per_second > 0.0 {
            (1e9 / per_second).max(1.0) as u64
        } else {
            u64::MAX
        };
        let burst = per_second.max(1.0);
        RateLimiting {
            per_second,
            interval_nanos,
            burst_nanos: (interval_nanos as f64 * (burst - 1.0)) as u64,
            tat: AtomicU64::new(0),
        }
    }

    /// The configured rate.
    ///
    /// ```
    /// use traceweave::RateLimiting;
    /// assert_eq!(RateLimiting::new(50.0).per_second(), 50.0);
    /// ```
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    fn try_acquire(&self, now: u64) -> bool {
        if self.interval_nanos == u64::MAX {
            return false;
        }
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let start = tat.max(now);
            if start - now > self.burst_nanos {
                return false;
            }
            match self.tat.compare_exchange_weak(
                tat,
                start + self.interval_nanos,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => tat = actual,
            }
        }
    }
}

impl Sampler for RateLimiting {
    fn should_sample(&self, _: &SamplingInput<'_>) -> SamplingDecision {
        if self.try_acquire(crate::span::clock::monotonic_nanos()) {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::Drop
        }
    }
}

/// Follows the parent's decision; roots are decided by a root sampler. Each of the four parent
/// cases can be overridden (OpenTelemetry's `ParentBased`).
#[derive(Debug)]
///
/// ```
/// use traceweave::{AlwaysOn, ParentBased, TraceIdRatio};
/// // Sample 5 % of the traces that start here and follow local parents; record the requests
/// // of callers that did not sample too (this service wants every one of its requests).
/// let sampler = ParentBased::new(TraceIdRatio::new(0.05)).remote_parent_not_sampled(AlwaysOn);
/// let tracer = traceweave::builder().sampler(sampler).build();
/// # drop(tracer);
/// ```
pub struct ParentBased {
    root: Box<dyn Sampler>,
    remote_sampled: Box<dyn Sampler>,
    remote_not_sampled: Box<dyn Sampler>,
    local_sampled: Option<Box<dyn Sampler>>,
    local_not_sampled: Option<Box<dyn Sampler>>,
}

impl ParentBased {
    /// Parent-based with `root` deciding for new traces.
    ///
    /// ```
    /// use traceweave::{ParentBased, TraceIdRatio};
    /// // New traces: 5 %. Children: whatever their parent decided.
    /// let tracer = traceweave::builder().sampler(ParentBased::new(TraceIdRatio::new(0.05))).build();
    /// # drop(tracer);
    /// ```
    pub fn new(root: impl Sampler) -> Self {
        ParentBased {
            root: Box::new(root),
            remote_sampled: Box::new(AlwaysOn),
            remote_not_sampled: Box::new(AlwaysOff),
            local_sampled: None,
            local_not_sampled: None,
        }
    }

    /// Decides for children of a sampled remote parent (default: sample).
    ///
    /// ```
    /// use traceweave::{AlwaysOff, AlwaysOn, ParentBased};
    /// // Do not trust callers' sampled flags: record only our own roots.
    /// let sampler = ParentBased::new(AlwaysOn).remote_parent_sampled(AlwaysOff);
    /// # drop(sampler);
    /// ```
    #[must_use]
    pub fn remote_parent_sampled(mut self, s: impl Sampler) -> Self {
        self.remote_sampled = Box::new(s);
        self
    }

    /// Decides for children of an unsampled remote parent (default: drop).
    ///
    /// ```
    /// use traceweave::{AlwaysOn, ParentBased, TraceIdRatio};
    /// // Record some traces even when the caller did not sample them.
    /// let sampler = ParentBased::new(AlwaysOn).remote_parent_not_sampled(TraceIdRatio::new(0.01));
    /// # drop(sampler);
    /// ```
    #[must_use]
    pub fn remote_parent_not_sampled(mut self, s: impl Sampler) -> Self {
        self.remote_not_sampled = Box::new(s);
        self
    }

    /// Decides for children of a sampled local parent (default: sample).
    ///
    /// ```
    /// use traceweave::{AlwaysOn, ParentBased};
    /// let sampler = ParentBased::new(AlwaysOn).local_parent_sampled(AlwaysOn);
    /// # drop(sampler);
    /// ```
    #[must_use]
    pub fn local_parent_sampled(mut self, s: impl Sampler) -> Self {
        self.local_sampled = Some(Box::new(s));
        self
    }

    /// Decides for children of an unsampled local parent (default: drop).
    ///
    /// ```
    /// use traceweave::{AlwaysOff, AlwaysOn, ParentBased};
    /// let sampler = ParentBased::new(AlwaysOff).local_parent_not_sampled(AlwaysOn);
    /// # drop(sampler);
    /// ```
    #[must_use]
    pub fn local_parent_not_sampled(mut self, s: impl Sampler) -> Self {
        self.local_not_sampled = Some(Box::new(s));
        self
    }
}

impl Sampler for ParentBased {
    fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingDecision {
        let sample = SamplingDecision::RecordAndSample;
        match input.parent.filter(|p| p.is_valid()) {
            None => match input.remote_decision {
                Some(true) => self.remote_sampled.should_sample(input),
                Some(false) => self.remote_not_sampled.should_sample(input),
                None => self.root.should_sample(input),
            },
            Some(p) if p.is_remote() && p.is_sampled() => self.remote_sampled.should_sample(input),
            Some(p) if p.is_remote() => self.remote_not_sampled.should_sample(input),
            Some(p) if p.is_sampled() => self
                .local_sampled
                .as_ref()
                .map_or(sample, |s| s.should_sample(input)),
            Some(_) => self
                .local_not_sampled
                .as_ref()
                .map_or(SamplingDecision::Drop, |s| s.should_sample(input)),
        }
    }

    fn follows_local_parent(&self) -> bool {
        self.local_sampled.is_none() && self.local_not_sampled.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{SpanId, TraceFlags};

    fn input(trace_id: u128, parent: Option<&SpanContext>) -> SamplingInput<'_> {
        SamplingInput {
            parent,
            trace_id: TraceId::from_u128(trace_id),
            name: "x",
            kind: SpanKind::Internal,
            remote_decision: None,
        }
    }

    #[test]
    fn ratio_is_consistent_and_close() {
        let s = TraceIdRatio::new(0.25);
        let mut yes = 0;
        for _ in 0..40_000 {
            let t = TraceId::random().to_u128();
            let d = s.should_sample(&input(t, None));
            assert_eq!(d, s.should_sample(&input(t, None)));
            yes += (d == SamplingDecision::RecordAndSample) as u32;
        }
        assert!((9_000..11_000).contains(&yes), "{yes}");
        assert_eq!(
            TraceIdRatio::new(1.0).should_sample(&input(u128::MAX, None)),
            SamplingDecision::RecordAndSample
        );
        assert_eq!(
            TraceIdRatio::new(0.0).should_sample(&input(1, None)),
            SamplingDecision::Drop
        );
        // Low 64 bits decide: 0x...0001 is below every positive bound.
        assert_eq!(
            TraceIdRatio::new(0.001).should_sample(&input(u128::MAX << 64 | 1, None)),
            SamplingDecision::RecordAndSample
        );
    }

    #[test]
    fn parent_based_follows_parent() {
        let s = ParentBased::new(AlwaysOff);
        let sampled = SpanContext::new(
            TraceId::from_u128(1),
            SpanId::from_u64(1),
            TraceFlags::SAMPLED,
            true,
        );
        let unsampled = SpanContext::new(
            TraceId::from_u128(1),
            SpanId::from_u64(1),
            TraceFlags::NONE,
            false,
        );
        assert_eq!(s.should_sample(&input(1, None)), SamplingDecision::Drop);
        assert_eq!(
            s.should_sample(&input(1, Some(&sampled))),
            SamplingDecision::RecordAndSample
        );
        assert_eq!(
            s.should_sample(&input(1, Some(&unsampled))),
            SamplingDecision::Drop
        );
        assert!(s.follows_local_parent());
        assert!(
            !ParentBased::new(AlwaysOn)
                .local_parent_not_sampled(AlwaysOn)
                .follows_local_parent()
        );
    }

    #[test]
    fn rate_limiting_allows_burst_then_rate() {
        let s = RateLimiting::new(10.0);
        let t0 = 1_000_000_000_000;
        let allowed = (0..100).filter(|_| s.try_acquire(t0)).count();
        assert_eq!(allowed, 10);
        // 100 ms later one more credit has accrued.
        assert!(s.try_acquire(t0 + 100_000_000));
        assert!(!s.try_acquire(t0 + 100_000_000));
        assert!(!RateLimiting::new(0.0).try_acquire(t0));
    }
}
