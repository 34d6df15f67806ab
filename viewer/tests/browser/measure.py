"""Times the waterfall of one trace in Debian's Chromium against a running `traceweave-view serve`:
from the click (hash change) to the first rows on screen, split into fetching the spans and
laying out + drawing them. Medians of 5. The figures of the viewer's README.

usage: measure.py --ui http://127.0.0.1:16686 --trace TRACE_ID
"""
import argparse
import json
import time

from playwright.sync_api import expect, sync_playwright

from test_viewer import CHROMIUM_ARGS


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ui", required=True)
    ap.add_argument("--trace", required=True)
    args = ap.parse_args()
    wall, fetch, total = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        for _ in range(5):
            page.goto(args.ui + "/#/search")
            expect(page.locator(".trace-row").first).to_be_visible()
            page.evaluate("document.getElementById('trace-header').replaceChildren()")
            t0 = time.perf_counter()
            page.evaluate(f"location.hash = '#/trace/{args.trace}'")
            expect(page.locator("#trace-id")).to_have_text(args.trace)
            expect(page.locator(".span-row").first).to_be_visible()
            wall.append((time.perf_counter() - t0) * 1000)
            total.append(page.evaluate("window.TW_LAST_RENDER_MS"))
            fetch.append(page.evaluate("window.TW_LAST_FETCH_MS"))
        spans = page.evaluate("current.rows.length")
        browser.close()
    median = lambda xs: sorted(xs)[len(xs) // 2]
    print(json.dumps({
        "spans": spans,
        "click_to_rows_ms": round(median(wall), 1),
        "fetch_ms": round(median(fetch), 1),
        "layout_render_ms": round(median([t - f for t, f in zip(total, fetch)]), 1),
    }))


if __name__ == "__main__":
    main()
