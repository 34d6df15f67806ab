#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // A gzip body first goes through the capped inflater.
    let body = if data.starts_with(&[0x1f, 0x8b]) {
        match traceweave_view::decode::gunzip(data, 1 << 16) {
            Ok(inflated) => inflated,
            Err(_) => return,
        }
    } else {
        data.to_vec()
    };
    if let Ok(spans) = traceweave_view::decode::otlp_protobuf(&body, &common::LIMITS) {
        common::check(&spans);
    }
});
