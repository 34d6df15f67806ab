#!/usr/bin/env python3
"""Prints the `spans` benchmark's medians as a table: ns per span on the calling thread for
each framework and workload, and traceweave's ratio to each anchor. Reads criterion's
target/criterion/<group>/<framework>/<n>/new/estimates.json."""
import json, os, sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "target", "criterion")
groups = [("sync_children", "1", 2), ("sync_children", "10", 11), ("sync_children", "100", 101),
          ("async_children", "10", 11), ("nesting_depth", "10", 10), ("unsampled_root", "100", 101)]
fws = ["traceweave", "fastrace", "tracing-otel", "tracing-none"]

def median(group, fw, n):
    p = os.path.join(root, group, fw, n, "new", "estimates.json")
    with open(p) as f:
        return json.load(f)["median"]["point_estimate"]

print("| workload | " + " | ".join(f"{f} ns/span" for f in fws) + " | tw/fastrace | tw/tracing-otel |")
print("|---|" + "---:|" * (len(fws) + 2))
for g, n, spans in groups:
    vals = {}
    for f in fws:
        try:
            vals[f] = median(g, f, n) / spans
        except OSError:
            vals[f] = float("nan")
    row = [f"{vals[f]:.1f}" for f in fws]
    row.append(f"{vals['traceweave'] / vals['fastrace']:.2f}")
    row.append(f"{vals['traceweave'] / vals['tracing-otel']:.3f}")
    print(f"| {g}/{n} | " + " | ".join(row) + " |")
