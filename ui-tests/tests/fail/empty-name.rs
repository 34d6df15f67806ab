#[traceweave::traced(name = "")]
fn f() {}

fn main() {}
