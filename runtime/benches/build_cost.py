#!/usr/bin/env python3
"""What an attribute costs at every build: a crate of N small annotated functions (half sync,
half async, all called from `main` so every one is compiled), once per attribute, built in the
same run, alternated.

    python3 runtime/benches/build_cost.py                 # release, 3 rounds, N = 1000
    python3 runtime/benches/build_cost.py --debug-edit    # plus a debug rebuild after an edit
    python3 runtime/benches/build_cost.py --only traced,none --rounds 1

The crates are written under target/build-cost/ (one workspace, one target dir); dependencies
are built once before the clock starts, then each measured build compiles only the generated
crate (`cargo clean -p` first). Prints the median seconds of each variant and the size of
its binary's .text.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "build-cost"

VARIANTS = {
    # name: (dependency lines, attribute on sync fns, attribute on async fns, prelude)
    "traced": (
        f'traceweave = {{ path = "{ROOT / "runtime"}", default-features = false }}',
        "#[traceweave::traced]",
        "#[traceweave::traced]",
    ),
    "instrument": (
        'tracing = { version = "0.1", default-features = false, features = ["attributes", "std"] }',
        "#[tracing::instrument(skip_all)]",
        "#[tracing::instrument(skip_all)]",
    ),
    "fastrace": (
        'fastrace = { version = "0.7", features = ["enable"] }',
        "#[fastrace::trace]",
        "#[fastrace::trace]",
    ),
    "none": ("", "", ""),
}

MAIN = """
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
    fn clone(_: *const ()) -> RawWaker { RawWaker::new(std::ptr::null(), &VTABLE) }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: the vtable's functions do nothing and never read the data pointer.
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
"""


def generate(variant: str, n: int) -> None:
    dep, sync_attr, async_attr = VARIANTS[variant]
    crate = OUT / f"bc-{variant}"
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text(
        f'[package]\nname = "bc-{variant}"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n\n'
        f"[dependencies]\n{dep}\n"
    )
    lines = [MAIN]
    calls = []
    for i in range(n // 2):
        lines.append(
            f"{sync_attr}\npub fn sync_{i}(x: u64, label: &str) -> u64 {{\n"
            f"    x.wrapping_mul({i} + 3) ^ label.len() as u64\n}}\n"
        )
        lines.append(
            f"{async_attr}\npub async fn async_{i}(x: u64) -> Result<u64, String> {{\n"
            f"    if x == {i} {{ return Err(format!(\"no {{x}}\")); }}\n"
            f"    Ok(x.wrapping_add({i}))\n}}\n"
        )
        calls.append(f"    acc ^= sync_{i}(acc, \"v\");")
        calls.append(f"    acc ^= block_on(async_{i}(acc)).unwrap_or(1);")
    lines.append("fn main() {\n    let mut acc: u64 = std::env::args().count() as u64;")
    lines.extend(calls)
    lines.append('    println!("{acc}");\n}\n')
    (crate / "src" / "main.rs").write_text("\n".join(lines))


def workspace(variants):
    OUT.mkdir(parents=True, exist_ok=True)
    members = ", ".join(f'"bc-{v}"' for v in variants)
    (OUT / "Cargo.toml").write_text(f"[workspace]\nresolver = \"3\"\nmembers = [{members}]\n")


def cargo(*args, env=None):
    subprocess.run(
        ["cargo", *args],
        cwd=OUT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def timed_build(variant: str, release: bool) -> float:
    profile = ["--release"] if release else []
    cargo("clean", "-p", f"bc-{variant}", *profile)
    start = time.monotonic()
    cargo("build", "-p", f"bc-{variant}", *profile)
    return time.monotonic() - start


def edit_rebuild(variant: str) -> float:
    main = OUT / f"bc-{variant}" / "src" / "main.rs"
    text = main.read_text()
    main.write_text(text.replace("x.wrapping_mul(0 + 3)", "x.wrapping_mul(0 + 4)", 1))
    start = time.monotonic()
    cargo("build", "-p", f"bc-{variant}")
    took = time.monotonic() - start
    main.write_text(text)
    cargo("build", "-p", f"bc-{variant}")
    return took


def text_size(variant: str) -> int:
    binary = OUT / "target" / "release" / f"bc-{variant}"
    out = subprocess.run(["size", "-A", str(binary)], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == ".text":
            return int(parts[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--functions", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default=",".join(VARIANTS))
    ap.add_argument("--debug-edit", action="store_true")
    args = ap.parse_args()
    variants = args.only.split(",")
    workspace(variants)
    for v in variants:
        generate(v, args.functions)
    # Dependencies first, outside the clock.
    for v in variants:
        cargo("build", "--release", "-p", f"bc-{v}")
        if args.debug_edit:
            cargo("build", "-p", f"bc-{v}")
    release = {v: [] for v in variants}
    edits = {v: [] for v in variants}
    for r in range(args.rounds):
        order = variants if r % 2 == 0 else list(reversed(variants))
        for v in order:
            release[v].append(timed_build(v, True))
            if args.debug_edit:
                edits[v].append(edit_rebuild(v))
            print(f"round {r + 1} {v}: release {release[v][-1]:.1f} s"
                  + (f", debug edit {edits[v][-1]:.1f} s" if args.debug_edit else ""),
                  file=sys.stderr, flush=True)
    print(f"{args.functions} functions, {args.rounds} rounds (median, all runs)")
    for v in variants:
        runs = ", ".join(f"{t:.1f}" for t in release[v])
        line = f"{v:<11} release {statistics.median(release[v]):6.1f} s ({runs})  .text {text_size(v) / 1e6:.2f} MB"
        if args.debug_edit:
            line += f"  debug edit {statistics.median(edits[v]):.1f} s"
        print(line)


if __name__ == "__main__":
    main()
