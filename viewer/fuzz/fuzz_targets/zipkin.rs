#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data)
        && let Ok(spans) = traceweave_view::decode::zipkin(&v, &common::LIMITS)
    {
        common::check(&spans);
    }
});
