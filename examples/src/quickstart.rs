//! The quickstart: a checkout request through a few layers of traced code, printed as a span
//! tree on stderr by the console exporter.
//!
//! Run it with `cargo run -p traceweave-examples --bin quickstart`. Set
//! `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER` and friends to see the configuration at work.

use std::time::Duration;

use traceweave::{Span, traced};

#[derive(Debug)]
struct Cart {
    items: Vec<(&'static str, u32)>,
}

#[derive(Debug)]
struct PaymentDeclined;

impl std::fmt::Display for PaymentDeclined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined by issuer")
    }
}

impl std::error::Error for PaymentDeclined {}

#[traced(kind = client, attrs(db.system = "postgresql", db.operation = "SELECT"))]
async fn load_cart(user_id: u64) -> Cart {
    tokio::time::sleep(Duration::from_millis(3)).await;
    Cart {
        items: vec![("book", 1200), ("pen", 150), ("user", user_id as u32 % 7)],
    }
}

#[traced(attrs(cart.items = items.len()))]
fn price(items: &[(&'static str, u32)]) -> u32 {
    items.iter().map(|(_, cents)| cents).sum()
}

#[traced(kind = client, args(cents), attrs(payment.provider = "acme"))]
async fn charge(cents: u32) -> Result<String, PaymentDeclined> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    if cents > 5_000 {
        Err(PaymentDeclined)
    } else {
        Ok(format!("receipt-{cents}"))
    }
}

#[traced(kind = producer, attrs(messaging.system = "rabbitmq", messaging.destination.name = "orders"))]
async fn publish_order_event(receipt: &str) {
    let _ = receipt;
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[traced(name = "send_confirmation_email")]
async fn send_email() {
    tokio::time::sleep(Duration::from_millis(2)).await;
}

#[traced(kind = server, args(user_id), attrs(http.request.method = "POST", url.path = "/checkout"))]
async fn checkout(user_id: u64) -> Result<String, PaymentDeclined> {
    let cart = load_cart(user_id).await;
    let total = price(&cart.items);
    let receipt = charge(total).await?;
    // The email goes out in its own task; it stays part of this trace.
    let email = traceweave::spawn(send_email());
    publish_order_event(&receipt).await;
    let _ = email.await;
    Ok(receipt)
}

#[tokio::main]
async fn main() {
    let _tracing = traceweave::builder()
        .service_name(std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "quickstart".into()))
        .install()
        .expect("tracing is initialised once");

    match checkout(42).await {
        Ok(receipt) => println!("checkout 42 succeeded: {receipt}"),
        Err(e) => println!("checkout 42 failed: {e}"),
    }

    // A manual span for code that cannot take an attribute, with an event.
    {
        let mut span = Span::start("warm_cache", traceweave::SpanKind::Internal);
        span.add_event(
            "cache.filled",
            vec![traceweave::KeyValue::new("entries", 128)],
        );
    }

    // A failing checkout: the error marks the spans on the way out.
    let mut big = Cart { items: vec![] };
    big.items.push(("laptop", 99_000));
    match charge(price(&big.items)).await {
        Ok(_) => println!("unexpected"),
        Err(e) => println!("charging 990.00 failed: {e}"),
    }
    // Dropping `_tracing` flushes: every tree above is printed before exit.
}
