#[traceweave::traced_rpc(link)]
fn handler(headers: &http::HeaderMap) {
    let _ = headers;
}

fn main() {}
