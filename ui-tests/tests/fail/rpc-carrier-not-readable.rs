#[traceweave::traced_rpc(carrier = id)]
fn handler(id: u64) {
    let _ = id;
}

fn main() {}
