#[traceweave::traced_rpc(kind = client)]
fn handler(headers: &http::HeaderMap) {
    let _ = headers;
}

fn main() {}
