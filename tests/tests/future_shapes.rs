//! `#[traced]` on functions returning `impl Future`, boxed futures, and async-trait methods.

use std::future::Future;
use std::pin::Pin;

use traceweave::testing::capture_async;
use traceweave::traced;

#[traced(args(n))]
fn impl_future(n: u32) -> impl Future<Output = Result<u32, std::io::Error>> + Send {
    let doubled = n * 2;
    async move {
        tokio::task::yield_now().await;
        inner();
        if doubled > 100 {
            Err(std::io::Error::other("too big"))
        } else {
            Ok(doubled)
        }
    }
}

#[traced]
fn boxed_future() -> Pin<Box<dyn Future<Output = u8> + Send>> {
    Box::pin(async {
        inner();
        3
    })
}

#[traced]
fn inner() {}

#[async_trait::async_trait]
trait Store: Sync {
    async fn get(&self, key: &str) -> anyhow::Result<String>;
    async fn default_method(&self) -> u8 {
        1
    }
}

struct Memory;

#[async_trait::async_trait]
impl Store for Memory {
    #[traced(args(key), kind = client)]
    async fn get(&self, key: &str) -> anyhow::Result<String> {
        tokio::task::yield_now().await;
        inner();
        anyhow::ensure!(key != "missing", "no such key {key}");
        Ok(key.to_uppercase())
    }

    #[traced]
    async fn default_method(&self) -> u8 {
        2
    }
}

#[tokio::test]
async fn future_returning_fns_and_async_trait_methods() {
    let spans = capture_async(async {
        assert_eq!(impl_future(2).await.unwrap(), 4);
        assert!(impl_future(60).await.is_err());
        assert_eq!(boxed_future().await, 3);
        let store: &dyn Store = &Memory;
        assert_eq!(store.get("a").await.unwrap(), "A");
        assert!(store.get("missing").await.is_err());
        assert_eq!(store.default_method().await, 2);
    })
    .await;
    assert_eq!(
        spans.tree(),
        "├─ impl_future n=2\n\
         │  └─ inner\n\
         ├─ impl_future ERROR too big n=60\n\
         │  └─ inner\n\
         ├─ boxed_future\n\
         │  └─ inner\n\
         ├─ get [client] key=\"a\"\n\
         │  └─ inner\n\
         ├─ get [client] ERROR no such key missing key=\"missing\"\n\
         │  └─ inner\n\
         └─ default_method\n"
    );
}
