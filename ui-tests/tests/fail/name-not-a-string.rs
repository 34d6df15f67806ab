#[traceweave::traced(name = checkout)]
fn f() {}

fn main() {}
