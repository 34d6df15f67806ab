#[traceweave::traced(kind = entry)]
fn f() {}

fn main() {}
