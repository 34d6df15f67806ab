#[traceweave::traced_rpc(carrier = reqest.headers())]
fn handler(request: &http::Request<()>) {
    let _ = request;
}

fn main() {}
