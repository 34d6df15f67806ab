#[traceweave::traced_rpc]
async fn handler(id: u64, body: String) -> u64 {
    let _ = body;
    id
}

fn main() {}
