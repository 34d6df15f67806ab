use std::time::Instant;
#[traceweave::traced]
fn child() {}
#[traceweave::traced]
fn root(n: usize) { for _ in 0..n { child(); } }
fn main() {
    let c = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    #[derive(Debug)] struct D(std::sync::Arc<std::sync::atomic::AtomicU64>);
    impl traceweave::Exporter for D { fn export(&mut self, s: &[traceweave::SpanRecord], _: &traceweave::Resource) -> Result<(), traceweave::ExportError> { self.0.fetch_add(s.len() as u64, std::sync::atomic::Ordering::Relaxed); Ok(()) } }
    let _g = traceweave::builder().ignore_env().exporter(D(c.clone())).install().unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..100_000 { root(100); }
        let el = t.elapsed();
        println!("per span {:.1} ns", el.as_nanos() as f64 / (100_000.0 * 101.0));
    }
    let mut x = 0u64;
    let a = minstant::Anchor::new();
    let t = Instant::now();
    for _ in 0..10_000_000 { x = x.wrapping_add(minstant::Instant::now().as_unix_nanos(&a)); }
    println!("minstant now {:.1} ns {} tsc={}", t.elapsed().as_nanos() as f64 / 1e7, x & 1, minstant::is_tsc_available());
    println!("{:?}", traceweave::stats());
}
