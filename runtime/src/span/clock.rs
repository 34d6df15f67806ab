//! The span clock: TSC cycles where the CPU has a stable TSC (minstant), else the OS monotonic
//! clock; both anchored once to the wall clock, so a timestamp is a read plus a multiply.

use std::sync::OnceLock;

static ANCHOR: OnceLock<minstant::Anchor> = OnceLock::new();

#[cold]
fn anchor() -> &'static minstant::Anchor {
    ANCHOR.get_or_init(minstant::Anchor::new)
}

/// Now, in nanoseconds since the Unix epoch.
#[inline]
pub(crate) fn now() -> u64 {
    let instant = minstant::Instant::now();
    let anchor = match ANCHOR.get() {
        Some(a) => a,
        None => anchor(),
    };
    instant.as_unix_nanos(anchor)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tracks_the_wall_clock() {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let ours = super::now();
        assert!(ours.abs_diff(wall) < 50_000_000, "{ours} vs {wall}");
        let later = super::now();
        assert!(later >= ours);
    }
}
