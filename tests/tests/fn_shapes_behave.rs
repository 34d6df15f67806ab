//! `#[traced]` on the function shapes that used to fail: borrows returned through `&mut self`,
//! inner attributes, boxed-future aliases, `#[traced(future)]`, `unsafe` / `extern "C"` fns,
//! `impl Iterator + '_`, and an async fn dropped before its first poll.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use traceweave::testing::{Capture, capture, capture_async};
use traceweave::traced;

/// The alias of the `futures` crate, spelled the same way.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A project's own alias, which only `#[traced(future)]` can recognise.
type Job<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

struct Stack {
    v: Vec<u32>,
    x: u32,
}

impl Stack {
    #[traced]
    fn last(&mut self) -> Option<&mut u32> {
        self.v.last_mut()
    }

    #[traced(ret)]
    fn get(&mut self) -> &u32 {
        self.x += 1;
        &self.x
    }

    #[traced]
    fn iter(&self) -> impl Iterator<Item = &u32> + '_ {
        self.v.iter()
    }

    #[traced]
    fn boxed(&self, n: u32) -> BoxFuture<'_, u32> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            child();
            self.x + n
        })
    }
}

#[traced]
fn child() {}

#[traced]
fn inner_attribute(x: u32) -> u32 {
    #![allow(unused_variables)]
    let unused = 3;
    x
}

#[traced]
unsafe fn read(p: *const u32) -> u32 {
    // SAFETY: the callers pass a pointer to a live u32.
    unsafe { *p }
}

#[traced]
extern "C" fn callback(a: u32) -> u32 {
    a + 1
}

#[traced(future)]
fn job(n: u32) -> Job<u32> {
    let f = async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        child();
        n
    };
    Box::pin(f)
}

#[traced]
fn made_with_a_helper() -> BoxFuture<'static, u8> {
    fn helper() -> BoxFuture<'static, u8> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            child();
            7
        })
    }
    helper()
}

#[traced]
async fn never_polled(n: u32) -> u32 {
    child();
    n
}

#[test]
fn borrows_escape_through_mut_self_and_inner_attributes_stay_inside() {
    let spans = capture(|| {
        let mut s = Stack {
            v: vec![1, 2],
            x: 5,
        };
        *s.last().unwrap() += 10;
        assert_eq!(s.v, [1, 12]);
        assert_eq!(*s.get(), 6);
        assert_eq!(s.iter().count(), 2);
        assert_eq!(inner_attribute(4), 4);
        // SAFETY: a pointer to a live local.
        assert_eq!(unsafe { read(&9) }, 9);
        assert_eq!(callback(1), 2);
    });
    for name in ["last", "get", "iter", "inner_attribute", "read", "callback"] {
        assert!(spans.named(name).is_some(), "no span {name}: {spans:?}");
    }
    assert_eq!(
        spans.named("get").unwrap().attribute("return"),
        Some(&traceweave::Value::from("6"))
    );
}

#[tokio::test]
async fn boxed_future_aliases_span_the_future_not_its_construction() {
    let spans = capture_async(async {
        let s = Stack { v: vec![], x: 1 };
        assert_eq!(s.boxed(2).await, 3);
        assert_eq!(job(4).await, 4);
        assert_eq!(made_with_a_helper().await, 7);
    })
    .await;
    for name in ["boxed", "job", "made_with_a_helper"] {
        let span = spans.named(name).unwrap();
        let took = Duration::from_nanos(span.duration_nanos());
        assert!(
            took >= Duration::from_millis(15),
            "{name} ended before its future ran: {took:?}"
        );
    }
    let children: Vec<_> = spans.iter().filter(|s| s.name == "child").collect();
    assert_eq!(children.len(), 3);
    for c in children {
        let parent = spans
            .iter()
            .find(|s| s.span_id == c.parent_span_id)
            .expect("child inside a boxed future has the fn's span as parent");
        assert!(["boxed", "job", "made_with_a_helper"].contains(&&*parent.name));
    }
}

#[traced]
async fn races() {
    let fut = never_polled(3);
    tokio::select! {
        biased;
        () = std::future::ready(()) => {}
        _ = fut => unreachable!("the ready branch wins"),
    }
    drop(never_polled(4));
}

#[tokio::test]
async fn an_async_fn_dropped_before_its_first_poll_records_a_cancelled_span() {
    let spans = Capture::new().run_async(races()).await.spans;
    let races = spans.named("races").unwrap();
    let cancelled: Vec<_> = spans.iter().filter(|s| s.name == "never_polled").collect();
    assert_eq!(cancelled.len(), 2, "{spans:?}");
    for s in cancelled {
        assert_eq!(
            s.attribute("cancelled"),
            Some(&traceweave::Value::from(true))
        );
        assert_eq!(
            s.parent_span_id, races.span_id,
            "a child of where it was dropped"
        );
    }
    assert!(spans.named("child").is_none(), "the body never ran");
}
