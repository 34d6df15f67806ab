#!/usr/bin/env python3
"""The end-to-end benchmark: builds the receiver and the app (release), starts the receiver,
then runs every framework and compression in its own process, alternated, and prints the
medians: CPU of the application process per delivered span (less what the pacing loop alone
costs, measured in the same rounds as `baseline`), spans delivered of spans made, peak RSS;
and traceweave's stages (span only, + encode, + gzip or zstd, + send). Compression none, gzip
and zstd for every framework (`--compressions` to choose).

    python3 runtime/benches/e2e/run.py                       # 50000/s, 5 s, 3 rounds
    python3 runtime/benches/e2e/run.py --load 0.2 --seconds 3 --rounds 5
    python3 runtime/benches/e2e/run.py --only traceweave --compressions none,zstd
"""

import argparse
import json
import os
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE.parents[2] / "target" / "e2e"
FRAMEWORKS = ["traceweave", "otel-sdk", "tracing-otel", "fastrace-otel"]
STAGES = ["tw-span", "tw-encode", "tw-compress"]


def http(method: str, url: str) -> str:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--load", default="50000/s", help="spans a second (N/s) or a busy share")
    ap.add_argument("--seconds", default="5")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--port", type=int, default=14399)
    ap.add_argument("--only", default=",".join(FRAMEWORKS + STAGES))
    ap.add_argument("--compressions", default="none,gzip,zstd")
    args = ap.parse_args()
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET))
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=HERE, env=env, check=True)
    receiver = subprocess.Popen([TARGET / "release" / "receiver", str(args.port)],
                                stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{args.port}"
    time.sleep(0.5)
    runs: dict[tuple[str, str], list[dict]] = {}
    compressions = args.compressions.split(",")
    # Stages: the span and the protobuf without compression, then each compression.
    cases = [("baseline", "none")] + [
        (f, c) for f in args.only.split(",") for c in compressions
        if f not in STAGES or (c == "none") == (f != "tw-compress")]
    try:
        for r in range(args.rounds):
            for framework, compression in (cases if r % 2 == 0 else list(reversed(cases))):
                http("POST", f"{base}/reset")
                out = subprocess.run(
                    [TARGET / "release" / "app", framework, compression, f"{base}/v1/traces",
                     args.seconds, args.load],
                    capture_output=True, text=True, check=True)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                row["delivered"] = int(http("GET", f"{base}/count"))
                if framework in STAGES:
                    row["delivered"] = row.get("tw_exported", 0)
                if framework == "baseline":
                    row["delivered"] = row["created"]
                runs.setdefault((framework, compression), []).append(row)
                per = row["cpu_ns"] / max(row["delivered"], 1) / 1000
                print(f"round {r + 1} {framework:14} {compression:5} made {row['created']:>9} "
                      f"delivered {row['delivered']:>9}  {per:6.2f} µs/span  "
                      f"RSS {row['rss_kb'] / 1024:6.1f} MB", flush=True)
    finally:
        receiver.kill()

    def med(key, f):
        return statistics.median(f(x) for x in runs[key])

    # At a rate, the pacing loop's own CPU (its wake-ups) is the same for every framework and
    # is subtracted. At a busy share, the loop's busy time is the spans' making: nothing is.
    harness = med(("baseline", "none"), lambda x: x["cpu_ns"]) if args.load.endswith("/s") else 0

    def cpu_per_span(x):
        return max(x["cpu_ns"] - harness, 0) / max(x["delivered"], 1) / 1000

    print(f"\nload {args.load}, {args.seconds} s a run, medians of {args.rounds} rounds; "
          f"the pacing loop alone: {harness / 1e6:.0f} ms of CPU a run, subtracted\n"
          if harness else
          f"load {args.load}, {args.seconds} s a run, medians of {args.rounds} rounds; "
          f"the calling thread busy that share of the time (what it buys differs)\n")
    print("| framework | compression | CPU per delivered span, µs | × traceweave | delivered of made | peak RSS, MB |")
    print("|---|---|---:|---:|---:|---:|")
    for framework, compression in cases:
        if framework in STAGES or framework == "baseline":
            continue
        cpu = med((framework, compression), cpu_per_span)
        tw = med(("traceweave", compression), cpu_per_span) \
            if ("traceweave", compression) in runs else float("nan")
        share = med((framework, compression), lambda x: x["delivered"] / max(x["created"], 1))
        rss = med((framework, compression), lambda x: x["rss_kb"] / 1024)
        print(f"| {framework} | {compression} | {cpu:.2f} | {cpu / tw:.2f} | {share:.4f} | {rss:.1f} |")
    stages = [s for s in STAGES if any((s, c) in runs for c in compressions)]
    if stages:
        print("\n| traceweave stage (cumulative) | CPU per span, µs |\n|---|---:|")
        names = {("tw-span", "none"): "spans only (no exporter work)",
                 ("tw-encode", "none"): "+ protobuf",
                 ("tw-compress", "gzip"): "+ gzip level 1",
                 ("tw-compress", "zstd"): "+ zstd level -1"}
        for key, name in names.items():
            if key in runs:
                print(f"| {name} | {med(key, cpu_per_span):.2f} |")
        for c in compressions:
            if ("traceweave", c) in runs:
                v = med(("traceweave", c), cpu_per_span)
                print(f"| sent over HTTP ({c}) | {v:.2f} |")


if __name__ == "__main__":
    main()
