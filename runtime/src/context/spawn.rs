//! Spawning with the caller's context.

use super::Context;

/// `tokio::spawn` with the caller's current context carried into the task: spans in the task
/// are children of the span that spawned it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle = traceweave::spawn(async { traceweave::Context::current() });
/// # handle.await.unwrap();
/// # }
/// ```
#[cfg(feature = "tokio")]
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    use super::FutureExt;
    tokio::spawn(future.in_current_context())
}

/// `std::thread::spawn` with the caller's current context attached in the new thread.
///
/// ```
/// let handle = traceweave::spawn_thread(|| traceweave::Context::current());
/// handle.join().unwrap();
/// ```
pub fn spawn_thread<F, T>(f: F) -> std::thread::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let ctx = Context::current();
    std::thread::spawn(move || ctx.run(f))
}
