// A request destructured in the parameter list cannot be borrowed whole: the macro does not
// see it, and says what it accepts.
#[traceweave::traced_rpc]
fn handler((req, _retries): (http::Request<()>, u32)) {
    let _ = req;
}

fn main() {}
