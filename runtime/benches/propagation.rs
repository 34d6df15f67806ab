//! Cost of reading and writing the headers that need percent-encoding or base64: W3C baggage,
//! Jaeger `uberctx-*`, SkyWalking `sw8` + `sw8-correlation`. Extract from a carrier as a peer
//! writes it, then inject what was extracted into a fresh carrier.
//!
//! `cargo bench -p traceweave --bench propagation`; see `benches/README.md` for the results.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use traceweave::propagation::{
    BaggagePropagator, JaegerPropagator, Propagator, SkyWalkingPropagator,
};

fn carrier(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn round_trip(
    c: &mut Criterion,
    name: &str,
    p: &dyn Propagator,
    incoming: HashMap<String, String>,
) {
    c.bench_function(name, |b| {
        b.iter(|| {
            let cx = p.extract(black_box(&incoming));
            let mut out: HashMap<String, String> = HashMap::with_capacity(8);
            p.inject(&cx, &mut out);
            black_box(out)
        })
    });
}

fn propagation(c: &mut Criterion) {
    round_trip(
        c,
        "baggage 4 members, escaped values",
        &BaggagePropagator::new(),
        carrier(&[(
            "baggage",
            "user.id=42,tenant=acme%20corp,region=eu-west%2C1;prop=1,note=caf%C3%A9%20%E2%98%95",
        )]),
    );
    round_trip(
        c,
        "jaeger id + 3 uberctx",
        &JaegerPropagator::new(),
        carrier(&[
            (
                "uber-trace-id",
                "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
            ),
            ("uberctx-user", "42"),
            ("uberctx-tenant", "acme%20corp"),
            ("uberctx-note", "caf%C3%A9"),
        ]),
    );
    round_trip(
        c,
        "sw8 + 2 correlation",
        &SkyWalkingPropagator::new().with_service("checkout", "inst-1"),
        carrier(&[
            (
                "sw8",
                "1-NGJmOTJmMzU3N2IzNGRhNmEzY2U5MjlkMGUwZTQ3MzY=-MDBmMDY3YWEwYmE5MDJiNw==-0-b3JkZXItc2VydmljZQ==-aW5zdC0xQDEwLjAuMC43-L2FwaS92MS9vcmRlcnM=-MTAuMC4wLjg6ODA4MA==",
            ),
            ("sw8-correlation", "dXNlcg==:NDI=,dGVuYW50:YWNtZQ=="),
        ]),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = propagation
}
criterion_main!(benches);
