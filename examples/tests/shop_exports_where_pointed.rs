//! The shop demo goes where the user points it: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, every
//! service's spans reach that collector (rotel, a real one) as well as the embedded viewer,
//! whose trees the demo still prints.

use std::process::Command;
use std::time::{Duration, Instant};

use traceweave_tests::free_port;

#[test]
fn every_service_reaches_the_users_collector_and_the_embedded_viewer() {
    let Some(py) = traceweave_tests::python() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("traceweave-shop-otlp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (http_port, grpc_port) = (free_port(), free_port());
    let log = dir.join("rotel.log");
    let _rotel = traceweave_tests::start_rotel(&py, http_port, grpc_port, Some(&log));

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shop"));
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .current_dir(&dir)
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{http_port}"),
        )
        .output()
        .expect("the shop runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "every service also exports to http://127.0.0.1:{http_port}"
        )),
        "it says so at start: {stdout}"
    );
    // The embedded viewer still has every service: the trees are printed from it.
    assert!(
        stdout.contains("POST /checkout [server] gateway"),
        "{stdout}"
    );
    assert!(
        stdout.contains("shop.inventory.v1.Inventory/Reserve [server] inventory"),
        "{stdout}"
    );

    let mut services = vec!["customer", "gateway", "inventory"];
    if stdout.contains("[consumer] order-worker") {
        services.push("order-worker"); // a broker ran (RabbitMQ or NATS)
    }
    let start = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let all = services
            .iter()
            .all(|s| text.contains(&format!("service.name: Str({s})")));
        if all || start.elapsed() > Duration::from_secs(20) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for s in &services {
        assert!(
            text.contains(&format!("service.name: Str({s})")),
            "rotel never received {s}'s spans"
        );
    }
    assert!(
        text.contains("Name           : POST /checkout"),
        "the gateway's server span"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
