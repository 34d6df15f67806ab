//! The span clock. On x86-64 with a stable TSC (what minstant checks: constant, non-stop,
//! the kernel's clocksource) a timestamp is one `rdtsc`; elsewhere it is the OS monotonic
//! clock. Raw ticks are turned into Unix nanoseconds on the collector thread, never on the
//! application thread.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const UNKNOWN: u8 = 0;
const TSC: u8 = 1;
const MONOTONIC: u8 = 2;

static SOURCE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// The process's monotonic origin, for the fallback source and for conversion.
fn base() -> &'static (Instant, u64) {
    static BASE: OnceLock<(Instant, u64)> = OnceLock::new();
    BASE.get_or_init(|| (Instant::now(), unix_now()))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cold]
fn detect() -> u8 {
    let source = if cfg!(target_arch = "x86_64") && minstant::is_tsc_available() {
        TSC
    } else {
        MONOTONIC
    };
    base();
    SOURCE.store(source, Ordering::Relaxed);
    source
}

/// Now, in raw ticks of the span clock.
#[inline(always)]
pub(crate) fn ticks() -> u64 {
    let mut source = SOURCE.load(Ordering::Relaxed);
    if source == UNKNOWN {
        source = detect();
    }
    #[cfg(target_arch = "x86_64")]
    if source == TSC {
        // SAFETY: rdtsc has no preconditions; availability was checked above.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    base().0.elapsed().as_nanos() as u64
}

struct Calibration {
    tsc0: u64,
    unix0: u64,
    nanos_per_tick: f64,
    /// `nanos_per_tick` in fixed point (`FRAC` fractional bits): the collector converts two
    /// or more times per span, and a multiply and a shift cost a fraction of the float
    /// round trip (relative error 2^-40, under a microsecond a day).
    mult: u64,
}

const FRAC: u32 = 40;

impl Calibration {
    fn new(tsc0: u64, unix0: u64, nanos_per_tick: f64) -> Self {
        Calibration {
            tsc0,
            unix0,
            nanos_per_tick,
            mult: (nanos_per_tick * (1u64 << FRAC) as f64) as u64,
        }
    }

    #[inline]
    fn unix_nanos(&self, ticks: u64) -> u64 {
        // Ticks before the calibration (an explicit earlier time) give a negative delta.
        let delta = ticks.wrapping_sub(self.tsc0) as i64 as i128 * i128::from(self.mult);
        let nanos = i128::from(self.unix0) + (delta >> FRAC);
        nanos.clamp(0, i128::from(u64::MAX)) as u64
    }
}

static CAL: OnceLock<Calibration> = OnceLock::new();

/// Measures the TSC rate against the OS clock once, over 20 ms (on the collector thread).
fn calibration() -> &'static Calibration {
    CAL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: as in `ticks`.
            let read = || unsafe { core::arch::x86_64::_rdtsc() };
            let (t0, i0, unix0) = (read(), Instant::now(), unix_now());
            std::thread::sleep(Duration::from_millis(20));
            let (t1, i1) = (read(), Instant::now());
            let nanos = i1.duration_since(i0).as_nanos() as f64;
            let ticks = t1.wrapping_sub(t0).max(1) as f64;
            Calibration::new(t0, unix0, nanos / ticks)
        }
        #[cfg(not(target_arch = "x86_64"))]
        Calibration::new(0, 0, 1.0)
    })
}

/// Measures the clock rate now (20 ms, once per process) rather than on the collector's first
/// batch, where the pause would let a burst overflow the queues.
pub(crate) fn calibrate() {
    if ticks() != 0 && SOURCE.load(Ordering::Relaxed) == TSC {
        calibration();
    }
}

/// Converts raw ticks to nanoseconds since the Unix epoch.
pub(crate) fn to_unix_nanos(ticks: u64) -> u64 {
    match SOURCE.load(Ordering::Relaxed) {
        TSC => calibration().unix_nanos(ticks),
        _ => base().1 + ticks,
    }
}

/// A wall-clock time (an API that takes explicit timestamps) in raw ticks; now when the clock
/// is not calibrated yet (it is once a pipeline has started), so the caller never waits.
pub(crate) fn ticks_at(time: SystemTime) -> u64 {
    let unix = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let now = ticks();
    match SOURCE.load(Ordering::Relaxed) {
        TSC => match CAL.get() {
            Some(c) => {
                let delta = (unix as i128 - c.unix0 as i128) as f64 / c.nanos_per_tick;
                c.tsc0.wrapping_add(delta as i64 as u64)
            }
            None => now,
        },
        _ => unix.saturating_sub(base().1),
    }
}

/// Monotonic nanoseconds since the process's clock origin (for rate limits).
pub(crate) fn monotonic_nanos() -> u64 {
    base().0.elapsed().as_nanos() as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn tracks_the_wall_clock() {
        let wall = super::unix_now();
        let ours = super::to_unix_nanos(super::ticks());
        assert!(ours.abs_diff(wall) < 50_000_000, "{ours} vs {wall}");
        let a = super::ticks();
        std::thread::sleep(std::time::Duration::from_millis(10));
        let b = super::ticks();
        let elapsed = super::to_unix_nanos(b) - super::to_unix_nanos(a);
        assert!((9_000_000..60_000_000).contains(&elapsed), "{elapsed}");
    }

    #[test]
    fn fixed_point_matches_the_float_conversion() {
        // A 2.6 GHz TSC read an hour and a day away from the calibration, both ways.
        let c = super::Calibration::new(1 << 50, 1_700_000_000_000_000_000, 1.0 / 2.6);
        for delta in [
            0i64,
            1,
            2_600,
            -2_600,
            9_360_000_000_000,
            -9_360_000_000_000,
            224_640_000_000_000,
        ] {
            let ticks = c.tsc0.wrapping_add(delta as u64);
            let float = (c.unix0 as f64 + delta as f64 * c.nanos_per_tick) as u64;
            let fixed = c.unix_nanos(ticks);
            assert!(fixed.abs_diff(float) < 1_000, "{delta}: {fixed} vs {float}");
        }
        // Before the Unix epoch: clamped, never wrapped.
        let early = super::Calibration::new(1 << 50, 5, 1.0);
        assert_eq!(early.unix_nanos(0), 0);
    }

    #[test]
    fn explicit_times_round_trip() {
        super::calibrate();
        let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(3);
        let want = earlier
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let got = super::to_unix_nanos(super::ticks_at(earlier));
        assert!(got.abs_diff(want) < 1_000_000, "{got} vs {want}");
    }
}
