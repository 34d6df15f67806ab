#[traceweave::traced(nmae = "x")]
fn f() {}

fn main() {}
