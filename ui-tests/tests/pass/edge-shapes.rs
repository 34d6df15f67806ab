//! Shapes that once failed to compile: borrows escaping through `&mut self`, inner attributes,
//! boxed-future aliases, `unsafe` and `extern "C"` fns, `impl Iterator + '_`, async fns with
//! patterns and `mut` parameters, async fns in traits, and `#[tokio::main]`.

use std::future::Future;
use std::pin::Pin;

use traceweave::traced;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Job = Pin<Box<dyn Future<Output = u8> + Send>>;

struct Stack<T> {
    v: Vec<T>,
    x: T,
}

impl<T: Clone + Send + Sync> Stack<T> {
    #[traced]
    fn last(&mut self) -> Option<&mut T> {
        self.v.last_mut()
    }

    #[traced]
    fn get(&mut self) -> &T {
        &self.x
    }

    #[traced]
    fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.v.iter()
    }

    #[traced]
    fn boxed(&self) -> BoxFuture<'_, T> {
        Box::pin(async move { self.x.clone() })
    }

    #[traced]
    async fn patterns(&mut self, (a, _b): (T, T), mut n: usize) -> usize {
        n += 1;
        self.x = a;
        n
    }
}

#[traced]
fn inner_attribute() {
    #![allow(unused_variables)]
    let unused = 1;
}

#[traced]
unsafe fn deref(p: *const u8) -> u8 {
    // SAFETY: callers pass a valid pointer.
    unsafe { *p }
}

#[traced]
extern "C" fn callback(n: u8) -> u8 {
    n
}

#[traced(future)]
fn job() -> Job {
    Box::pin(async { 1 })
}

trait Repo {
    fn find(&self, id: u32) -> impl Future<Output = Option<u32>> + Send;
    async fn count(&self) -> usize;
}

struct Mem;

impl Repo for Mem {
    #[traced(args(id))]
    async fn find(&self, id: u32) -> Option<u32> {
        Some(id)
    }

    #[traced]
    async fn count(&self) -> usize {
        0
    }
}

fn assert_send<F: Future + Send>(f: F) -> F {
    f
}

#[traced]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut s = Stack { v: vec![1u8], x: 2 };
    *s.last().unwrap() += 1;
    let _ = s.get();
    assert_eq!(s.iter().count(), 1);
    assert_eq!(s.boxed().await, 2);
    assert_eq!(assert_send(s.patterns((3, 4), 0)).await, 1);
    inner_attribute();
    // SAFETY: a live local.
    assert_eq!(unsafe { deref(&5) }, 5);
    assert_eq!(callback(6), 6);
    assert_eq!(job().await, 1);
    assert_eq!(assert_send(Mem.find(7)).await, Some(7));
    assert_eq!(Mem.count().await, 0);
}
