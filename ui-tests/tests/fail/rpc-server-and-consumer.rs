#[traceweave::traced_rpc(server, consumer)]
fn handler(headers: &http::HeaderMap) {
    let _ = headers;
}

fn main() {}
