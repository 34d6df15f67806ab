#[traceweave::traced(ret = true)]
fn f() -> u8 {
    1
}

fn main() {}
