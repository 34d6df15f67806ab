//! `shop --skywalking ADDR`: every service of the demo reports to SkyWalking's OAP (here a
//! receiver built on SkyWalking's official protocol definitions) as native segments, and each
//! checkout is one SkyWalking trace across the customer, the gateway, the inventory and (when a
//! broker runs) the order worker, joined by `sw8` over HTTP, gRPC and the message queue.

use std::process::Command;

use traceweave_tests::skywalking_oap::{Oap, check_joins};

#[test]
fn every_checkout_is_one_skywalking_trace_across_the_services() {
    let Some(py) = traceweave_tests::python() else {
        return;
    };
    let oap = Oap::start(&py);
    let dir = std::env::temp_dir().join(format!("traceweave-shop-sw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shop"));
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") || k.starts_with("SW_") {
            cmd.env_remove(k);
        }
    }
    let address = format!("127.0.0.1:{}", oap.grpc);
    let out = cmd
        .current_dir(&dir)
        .args(["--skywalking", &address])
        .output()
        .expect("the shop runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("also reports to SkyWalking's OAP at {address}")),
        "{stdout}"
    );
    let broker = stdout.contains("[consumer] order-worker");
    let mut services = vec!["customer", "gateway", "inventory"];
    if broker {
        services.push("order-worker");
    }
    let received = oap.wait_for(|r| {
        let segs = r["segments"].as_array().unwrap();
        services
            .iter()
            .all(|s| segs.iter().any(|seg| seg["service"] == *s))
    });
    assert!(
        received["errors"].as_array().unwrap().is_empty(),
        "{received}"
    );
    // The customer's root span names each checkout's trace.
    let traces: Vec<&str> = received["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["service"] == "customer" && s["spans"][0]["operationName"] == "customer checkout"
        })
        .map(|s| s["traceId"].as_str().unwrap())
        .collect();
    assert_eq!(traces.len(), 4, "four checkouts: {received}");
    // The one that fails in the stock database: customer -> gateway -> inventory, no order.
    // The others: customer -> gateway (HTTP), gateway -> inventory (gRPC), and the order
    // message to the worker when a broker runs.
    let mut full = 0;
    for trace in &traces {
        let seen: std::collections::BTreeSet<&str> = received["segments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["traceId"] == *trace)
            .map(|s| s["service"].as_str().unwrap())
            .collect();
        let pairs = if seen.contains("order-worker") { 3 } else { 2 };
        let names: Vec<&str> = seen.iter().copied().collect();
        check_joins(&received, trace, &names, pairs);
        if seen.len() == services.len() {
            full += 1;
        }
    }
    assert!(full >= 3, "three checkouts cross every service");
    // Each service reported its instance.
    for s in &services {
        assert!(
            received["properties"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["service"] == *s),
            "no instance properties of {s}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
