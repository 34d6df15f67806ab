#![no_main]

#[path = "common.rs"]
mod common;

use traceweave::propagation::{CompositePropagator, Propagator, by_name};

// Every format at once, as `OTEL_PROPAGATORS=tracecontext,baggage,b3multi,b3,jaeger,sw8` builds
// it: the input is `name: value` lines, so any header (and any `uberctx-*`) can appear.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let parts: Vec<Box<dyn Propagator>> =
        ["tracecontext", "baggage", "b3multi", "b3", "jaeger", "sw8"]
            .iter()
            .map(|n| by_name(n).unwrap())
            .collect();
    let p = CompositePropagator::new(parts);
    common::round_trip(&p, &common::header_lines(data), common::Baggage::Unchecked);
});
