#[traceweave::traced]
fn broken() -> u8 {
    let x = ;
    x
}

fn main() {}
