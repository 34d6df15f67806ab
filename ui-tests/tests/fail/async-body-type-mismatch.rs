#[traceweave::traced]
async fn count() -> u8 {
    "not a number"
}

#[traceweave::traced]
fn sync_count() -> u8 {
    "not a number"
}

fn main() {}
