#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data)
        && let Ok(spans) = traceweave_view::decode::otlp_json(&v, &common::LIMITS)
    {
        common::check(&spans);
    }
    // The file reader too (JSON lines).
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(spans) = traceweave_view::decode::file_contents(text, &common::LIMITS)
    {
        common::check(&spans);
    }
});
