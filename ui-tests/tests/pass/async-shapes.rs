use std::future::Future;
use std::pin::Pin;

use traceweave::traced;

#[traced]
async fn plain() {}

#[traced(args(n), ret)]
async fn with_result(n: u8) -> Result<u8, std::io::Error> {
    plain().await;
    Ok(n)
}

#[traced]
async fn question_mark(s: &str) -> anyhow::Result<u8> {
    let n: u8 = s.parse()?;
    Ok(n)
}

#[traced]
async fn borrows<'a>(s: &'a str) -> &'a str {
    s
}

#[traced]
async fn async_impl_trait() -> impl std::fmt::Display {
    5
}

#[traced(kind = client)]
fn impl_future(n: u8) -> impl Future<Output = u8> + Send {
    async move { n }
}

#[traced]
fn boxed() -> Pin<Box<dyn Future<Output = u8> + Send>> {
    Box::pin(async { 1 })
}

struct Conn;

impl Conn {
    #[traced]
    async fn query(&self, q: &str) -> usize {
        q.len()
    }

    #[traced]
    async fn consume(self) -> u8 {
        0
    }
}

#[async_trait::async_trait]
trait Handler {
    async fn handle(&self, req: String) -> Result<String, std::io::Error>;
}

#[async_trait::async_trait]
impl Handler for Conn {
    #[traced(kind = server, args(req))]
    async fn handle(&self, req: String) -> Result<String, std::io::Error> {
        Ok(req)
    }
}

#[async_trait::async_trait(?Send)]
trait LocalHandler {
    async fn local(&self) -> u8;
}

#[async_trait::async_trait(?Send)]
impl LocalHandler for Conn {
    #[traced]
    async fn local(&self) -> u8 {
        1
    }
}

fn assert_send<T: Send>(_: T) {}

fn main() {
    assert_send(plain());
    assert_send(with_result(1));
    assert_send(Conn.query("x"));
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let _ = with_result(1).await;
        let _ = question_mark("1").await;
        let _ = borrows("x").await;
        let _ = async_impl_trait().await.to_string();
        let _ = impl_future(1).await;
        let _ = boxed().await;
        let _ = Conn.query("x").await;
        let _ = Conn.handle("x".into()).await;
        let _ = Conn.local().await;
        let _ = Conn.consume().await;
    });
}
