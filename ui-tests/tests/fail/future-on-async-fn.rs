#[traceweave::traced(future)]
async fn already_a_future() -> u8 {
    1
}

#[traceweave::traced(future)]
fn returns_nothing() {}

fn main() {}
