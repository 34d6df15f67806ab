#!/usr/bin/env python3
"""How well the published crates are documented: the figures the README's contributing notes
quote, counted the same way each time.

    python3 docs/doc_stats.py

Public items come from rustdoc's JSON output (`cargo rustdoc -- --output-format json`, through
`RUSTC_BOOTSTRAP=1` as the sanitizer run does, with the features docs.rs builds): everything a
user can name from the crate root — modules, types, traits and their methods, functions,
inherent methods, constants, type aliases, macros — but not fields, variants, trait impls or
`#[doc(hidden)]` items. An item "has an example" when its own doc comment holds a fenced code
block. Doc density is counted from the sources: doc comment lines (`///`, `//!`) per line of
code (non-blank lines that are not comments), tests left out.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS_RS = "tokio,http,reqwest,axum,tonic,amqp,nats,otlp,otlp-grpc,otlp-tls,opentelemetry-sdk,tracing,log"
CRATES = [
    ("traceweave", "traceweave", ROOT / "runtime" / "src", ["--features", DOCS_RS]),
    ("traceweave-macros", "traceweave_macros", ROOT / "macros" / "src", []),
    ("traceweave-view", "traceweave_view", ROOT / "viewer" / "src", ["--lib"]),
]
COUNTED = {"module", "struct", "enum", "trait", "function", "type_alias", "constant", "static",
           "macro", "proc_macro", "union"}


def rustdoc_json(package: str, json_name: str, args: list[str]) -> dict:
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    subprocess.run(
        ["cargo", "rustdoc", "-q", "-p", package, *args, "--", "-Z", "unstable-options",
         "--output-format", "json"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )
    return json.loads((ROOT / "target" / "doc" / f"{json_name}.json").read_text())


def public_items(doc: dict) -> list[dict]:
    index = doc["index"]
    seen, out = set(), []

    def hidden(item):
        return any("doc(hidden)" in str(a) for a in item.get("attrs", []))

    def visit(item_id):
        key = str(item_id)
        if key in seen or key not in index:
            return
        seen.add(key)
        item = index[key]
        if hidden(item):
            return
        kind, inner = next(iter(item["inner"].items()))
        if kind == "use":
            if inner.get("id") is not None:
                visit(inner["id"])
            return
        if kind in COUNTED:
            out.append(item)
        if kind == "module":
            for child in inner["items"]:
                visit(child)
        elif kind == "trait":
            for child in inner["items"]:
                visit_member(child)
        if kind in ("struct", "enum", "union"):
            for impl_id in inner.get("impls", []):
                impl = index.get(str(impl_id), {}).get("inner", {}).get("impl")
                if impl and impl.get("trait") is None and not impl.get("is_synthetic"):
                    for child in impl["items"]:
                        if index.get(str(child), {}).get("visibility") == "public":
                            visit_member(child)

    def visit_member(item_id):
        key = str(item_id)
        if key in seen or key not in index:
            return
        seen.add(key)
        item = index[key]
        if not hidden(item) and "function" in item["inner"]:
            out.append(item)

    visit(doc["root"])
    return out


def density(src: Path) -> float:
    doc_lines = code_lines = 0
    for path in sorted(src.rglob("*.rs")):
        in_tests = False
        for line in path.read_text().split("\n"):
            s = line.strip()
            if s.startswith("#[cfg(test)]") or s.startswith("#[cfg(all(test"):
                in_tests = True
            if in_tests:
                continue
            if s.startswith("///") or s.startswith("//!"):
                doc_lines += 1
            elif s and not s.startswith("//"):
                code_lines += 1
    return doc_lines / code_lines


def main() -> int:
    print(f"{'crate':<18} {'public items':>12} {'documented':>10} {'with an example':>16} {'doc density':>11}")
    for package, json_name, src, args in CRATES:
        items = public_items(rustdoc_json(package, json_name, args))
        documented = sum(1 for i in items if (i.get("docs") or "").strip())
        examples = sum(1 for i in items if "```" in (i.get("docs") or ""))
        share = 100 * examples / len(items) if items else 0
        print(f"{package:<18} {len(items):>12} {documented:>10} {examples:>9} ({share:3.0f} %) "
              f"{density(src):>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
