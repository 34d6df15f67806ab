//! Every way out of a traced function ends its span: return, `?`, panic, and a future dropped
//! before completion; `Err` marks the span failed for every spelling of `Result`.

use std::fmt;
use std::time::Duration;

use traceweave::testing::{Capture, capture};
use traceweave::{Status, traced};

#[derive(Debug)]
struct Declined;

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for Declined {}

type ShopResult<T> = Result<T, Declined>;

#[derive(Debug)]
struct OnlyDebug(#[allow(dead_code)] u8);

#[traced]
fn io_alias() -> std::io::Result<()> {
    Err(std::io::Error::other("disk gone"))
}

#[traced]
fn anyhow_alias() -> anyhow::Result<u8> {
    let n: u8 = "300".parse()?;
    Ok(n)
}

#[traced]
fn own_alias(ok: bool) -> ShopResult<u32> {
    if ok { Ok(1) } else { Err(Declined) }
}

#[traced]
fn boxed() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err("boxed failure".into())
}

#[traced]
fn debug_only() -> Result<(), OnlyDebug> {
    Err(OnlyDebug(7))
}

#[traced]
fn early_return(flag: bool) -> Result<u8, Declined> {
    if flag {
        return Ok(1);
    }
    own_alias(false)?;
    Ok(2)
}

#[traced]
fn not_a_result() -> Option<u8> {
    None
}

fn status(spans: &traceweave::testing::Spans, name: &str) -> Status {
    spans.named(name).unwrap().status.clone()
}

#[test]
fn err_marks_error_for_every_result_alias() {
    let spans = capture(|| {
        let _ = io_alias();
        let _ = anyhow_alias();
        let _ = own_alias(true);
        let _ = boxed();
        let _ = debug_only();
        let _ = not_a_result();
    });
    assert_eq!(status(&spans, "io_alias"), Status::error("disk gone"));
    assert_eq!(
        status(&spans, "anyhow_alias"),
        Status::error("number too large to fit in target type")
    );
    assert_eq!(status(&spans, "own_alias"), Status::Unset);
    assert_eq!(status(&spans, "boxed"), Status::error("boxed failure"));
    assert_eq!(status(&spans, "debug_only"), Status::error("OnlyDebug(7)"));
    assert_eq!(status(&spans, "not_a_result"), Status::Unset);
}

#[test]
fn question_mark_and_early_return_end_the_span() {
    let spans = capture(|| {
        assert_eq!(early_return(true).unwrap(), 1);
        assert!(early_return(false).is_err());
    });
    assert_eq!(
        spans.tree(),
        "├─ early_return\n\
         └─ early_return ERROR card declined\n   \
            └─ own_alias ERROR card declined\n"
    );
}

#[traced]
fn explodes() {
    inner_ok();
    panic!("boom");
}

#[traced]
fn inner_ok() {}

#[test]
fn panic_marks_error_ends_the_span_and_keeps_unwinding() {
    let spans = capture(|| {
        let caught = std::panic::catch_unwind(explodes);
        assert!(caught.is_err(), "the panic continues");
        assert!(!traceweave::Context::current().has_span(), "stack restored");
    });
    assert_eq!(spans.tree(), "└─ explodes ERROR panicked\n   └─ inner_ok\n");
}

#[traced]
async fn async_explodes() {
    tokio::task::yield_now().await;
    panic!("async boom");
}

#[traced]
async fn slow() {
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[traced]
async fn async_err() -> std::io::Result<()> {
    tokio::task::yield_now().await;
    Err(std::io::Error::other("async failure"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_panic_cancellation_and_errors() {
    let spans = Capture::new()
        .run_async(async {
            let task = traceweave::spawn(async_explodes());
            assert!(task.await.unwrap_err().is_panic());
            // Cancelled by a timeout: the future is dropped before completion.
            let r = tokio::time::timeout(Duration::from_millis(10), slow()).await;
            assert!(r.is_err());
            let _ = async_err().await;
        })
        .await
        .spans;
    assert_eq!(
        spans.named("async_explodes").unwrap().status,
        Status::error("panicked")
    );
    let slow = spans.named("slow").unwrap();
    assert_eq!(
        slow.attribute("cancelled"),
        Some(&traceweave::Value::Bool(true))
    );
    assert_eq!(slow.status, Status::Unset);
    assert!(slow.duration_nanos() >= 9_000_000);
    assert_eq!(
        spans.named("async_err").unwrap().status,
        Status::error("async failure")
    );
}
