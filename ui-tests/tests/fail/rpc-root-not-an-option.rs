#[traceweave::traced_rpc(root)]
fn handler(headers: &http::HeaderMap) {
    let _ = headers;
}

fn main() {}
