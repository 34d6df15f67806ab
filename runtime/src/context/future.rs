//! Carrying a context through a future: attached on every poll, detached after.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::{Context, pop, push};

pin_project_lite::pin_project! {
    /// A future that runs with a given context attached, whichever thread polls it.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct WithContext<F> {
        #[pin]
        inner: F,
        ctx: Context,
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _attached = Attached(push(this.ctx.clone()));
        this.inner.poll(cx)
    }
}

/// Pops on drop, so a panicking poll still restores the stack.
struct Attached(u64);

impl Drop for Attached {
    fn drop(&mut self) {
        pop(self.0);
    }
}

/// Attaching contexts to futures.
pub trait FutureExt: Future + Sized {
    /// Runs this future with `ctx` as its current context.
    fn with_context(self, ctx: Context) -> WithContext<Self> {
        WithContext { inner: self, ctx }
    }

    /// Runs this future with the caller's current context, wherever it is polled: use it for
    /// futures handed to an executor (`tokio::spawn(fut.in_current_context())`).
    ///
    /// ```
    /// use traceweave::{Context, FutureExt};
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let handle = tokio::spawn(async { Context::current() }.in_current_context());
    /// # handle.await.unwrap();
    /// # });
    /// ```
    fn in_current_context(self) -> WithContext<Self> {
        WithContext {
            inner: self,
            ctx: Context::current(),
        }
    }
}

impl<F: Future> FutureExt for F {}
