struct Order;

#[traceweave::traced(args(order))]
fn f(order: Order) {}

fn main() {}
