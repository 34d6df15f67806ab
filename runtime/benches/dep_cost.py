#!/usr/bin/env python3
"""What a user's build pays for the tracing stack: a small binary that creates a span and
exports it over OTLP/HTTP protobuf, built cold (its own empty target dir, every dependency
compiled; the crates already downloaded), once per stack, debug and release, alternated.

    python3 runtime/benches/dep_cost.py                  # 2 rounds, every stack
    python3 runtime/benches/dep_cost.py --rounds 1 --only traceweave,tracing-otel

Stacks, each as its crate's README sets it up for OTLP:
  traceweave            traceweave with its default features (OTLP/HTTP, TLS)
  traceweave-nodefault  traceweave with default-features = false (no exporter but the console)
  tracing-otel          tracing + tracing-subscriber + tracing-opentelemetry + opentelemetry_sdk
                        + opentelemetry-otlp (its default features: http-proto, reqwest)
  fastrace-otel         fastrace + fastrace-opentelemetry + opentelemetry-otlp (the same)

Prints, per stack and profile, each round's seconds and the crates compiled; the crates are
written under target/dep-cost/.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "dep-cost"

OTLP = 'opentelemetry-otlp = "0.33"\n'

# traceweave's program, with and without its default features.
TW_MAIN = """
#[traceweave::traced]
fn work() {}

fn main() {
    let guard = traceweave::init();
    work();
    drop(guard);
}
"""

STACKS = {
    "traceweave": (
        f'traceweave = {{ path = "{ROOT / "runtime"}" }}\n',
        TW_MAIN,
    ),
    "traceweave-nodefault": (
        f'traceweave = {{ path = "{ROOT / "runtime"}", default-features = false }}\n',
        TW_MAIN,
    ),
    "tracing-otel": (
        'tracing = "0.1"\n'
        'tracing-subscriber = "0.3"\n'
        'tracing-opentelemetry = "0.34"\n'
        'opentelemetry = "0.33"\n'
        'opentelemetry_sdk = "0.33"\n' + OTLP,
        """
use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::layer::SubscriberExt;

#[tracing::instrument]
fn work() {}

fn main() {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .expect("exporter");
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("dep-cost")));
    tracing::subscriber::with_default(subscriber, work);
    let _ = provider.shutdown();
}
""",
    ),
    "fastrace-otel": (
        'fastrace = { version = "0.7", features = ["enable"] }\n'
        'fastrace-opentelemetry = "0.19"\n'
        'opentelemetry = "0.33"\n'
        'opentelemetry_sdk = "0.33"\n' + OTLP,
        """
use std::borrow::Cow;

#[fastrace::trace]
fn work() {}

fn main() {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .expect("exporter");
    let reporter = fastrace_opentelemetry::OpenTelemetryReporter::new(
        exporter,
        Cow::Owned(opentelemetry_sdk::Resource::builder().build()),
        opentelemetry::InstrumentationScope::builder("dep-cost").build(),
    );
    fastrace::set_reporter(reporter, fastrace::collector::Config::default());
    {
        let root = fastrace::Span::root("main", fastrace::prelude::SpanContext::random());
        let _guard = root.set_local_parent();
        work();
    }
    fastrace::flush();
}
""",
    ),
}


def write(stack: str) -> Path:
    deps, main = STACKS[stack]
    crate = OUT / stack
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text(
        f'[package]\nname = "dep-cost-{stack}"\nversion = "0.0.0"\nedition = "2024"\n'
        f"publish = false\n\n[workspace]\n\n[dependencies]\n{deps}"
    )
    (crate / "src" / "main.rs").write_text(main)
    return crate


def cold_build(crate: Path, release: bool) -> tuple[float, int]:
    target = crate / "target"
    shutil.rmtree(target, ignore_errors=True)
    args = ["cargo", "build", "--offline", "--message-format=short"]
    if release:
        args.append("--release")
    env = dict(os.environ, CARGO_TARGET_DIR=str(target), CARGO_INCREMENTAL="0")
    start = time.perf_counter()
    out = subprocess.run(args, cwd=crate, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{crate.name}: build failed\n{out.stderr[-4000:]}")
    crates = len(re.findall(r"^\s*Compiling ", out.stderr, re.M))
    shutil.rmtree(target, ignore_errors=True)
    return took, crates


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", default=",".join(STACKS))
    args = ap.parse_args()
    stacks = args.only.split(",")
    crates = {s: write(s) for s in stacks}
    # Download (and lock) everything first: the clock measures compiling only.
    for s, crate in crates.items():
        subprocess.run(["cargo", "fetch", "--quiet"], cwd=crate, check=True)
    results: dict[tuple[str, str], list[float]] = {}
    counts: dict[str, int] = {}
    for r in range(args.rounds):
        for profile in ("debug", "release"):
            order = stacks if r % 2 == 0 else list(reversed(stacks))
            for s in order:
                took, n = cold_build(crates[s], profile == "release")
                results.setdefault((s, profile), []).append(took)
                counts[s] = n
                print(f"round {r + 1} {profile:7} {s:22} {took:6.1f} s  {n} crates", flush=True)
    print("\n| stack | crates | debug, s | release, s |\n|---|---:|---:|---:|")
    for s in stacks:
        dbg = " / ".join(f"{t:.0f}" for t in results[(s, "debug")])
        rel = " / ".join(f"{t:.0f}" for t in results[(s, "release")])
        print(f"| {s} | {counts[s]} | {dbg} | {rel} |")


if __name__ == "__main__":
    main()
