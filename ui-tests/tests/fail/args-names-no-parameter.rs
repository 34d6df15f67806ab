#[traceweave::traced(args(user_id, oder_id))]
fn f(user_id: u64, order_id: u64) {
    let _ = (user_id, order_id);
}

fn main() {}
