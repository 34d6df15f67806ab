#![deny(unused_must_use)]

use traceweave::traced;

/// Documented.
#[must_use]
#[inline]
#[traced]
fn kept() -> u8 {
    1
}

#[traced]
#[allow(clippy::needless_return)]
#[cfg(not(any()))]
fn cfg_kept() -> u8 {
    return 2;
}

mod reexport {
    pub use traceweave as tw;
}

#[traced(crate = reexport::tw)]
fn through_reexport() {}

fn main() {
    let _ = kept();
    let _ = cfg_kept();
    through_reexport();
}
