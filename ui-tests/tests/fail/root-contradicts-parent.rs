#[traceweave::traced(root, parent = ctx)]
fn f(ctx: &traceweave::Context) {
    let _ = ctx;
}

fn main() {}
