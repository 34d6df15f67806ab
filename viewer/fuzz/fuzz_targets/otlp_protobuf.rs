#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use traceweave_view::decode::{ContentEncoding, inflate};
    // A gzip or zstd body first goes through the capped inflater.
    let encoding = match data {
        [0x1f, 0x8b, ..] => Some(ContentEncoding::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(ContentEncoding::Zstd),
        _ => None,
    };
    let body = match encoding {
        Some(encoding) => match inflate(encoding, data, 1 << 16) {
            Ok(inflated) => inflated,
            Err(_) => return,
        },
        None => data.to_vec(),
    };
    if let Ok(spans) = traceweave_view::decode::otlp_protobuf(&body, &common::LIMITS) {
        common::check(&spans);
    }
});
