"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
require("../format.js");
const TW = require("../layout.js");

const span = (id, parent, start, end, extra = {}) => ({
  span_id: id, parent_id: parent, service: "svc", name: "op-" + id, kind: 1,
  start_ns: start, end_ns: end, status: 0, ...extra,
});

test("children under parents, earliest first; missing parents and cycles start branches", () => {
  const spans = [
    span("b", "a", 20, 30), span("a", null, 10, 100), span("c", "a", 15, 25),
    span("x", "y", 50, 60), span("y", "x", 40, 45), span("o", "gone", 5, 6),
  ];
  const { rows, total, t0 } = TW.layoutTrace(spans);
  assert.equal(t0, 5);
  assert.equal(total, 95);
  assert.deepEqual(rows.map((r) => r.span.span_id), ["o", "a", "c", "b", "y", "x"]);
  assert.deepEqual(rows.map((r) => r.depth), [0, 0, 1, 1, 0, 1]);
});

test("a server span outside its client span (clock skew) is drawn inside it, and marked", () => {
  const spans = [
    span("c", null, 1000, 2000, { kind: 3, service: "front" }),
    span("s", "c", 5000, 5500, { kind: 2, service: "back" }),
  ];
  const { rows } = TW.layoutTrace(spans);
  const s = rows.find((r) => r.span.span_id === "s");
  assert.ok(s.skew !== 0);
  assert.ok(s.start >= 0 && s.end <= 1000, `${s.start}..${s.end}`);
});

test("a trace of 200,000 spans lays out (a chain and a fan) without a RangeError", () => {
  const n = 200_000;
  const chain = [];
  for (let i = 0; i < n; i++) chain.push(span("s" + i, i ? "s" + (i - 1) : null, i, 2 * n - i));
  const a = TW.layoutTrace(chain);
  assert.equal(a.rows.length, n);
  assert.equal(a.rows[n - 1].depth, n - 1);
  const fan = [span("root", null, 0, 10 * n)];
  for (let i = 0; i < n; i++) fan.push(span("k" + i, "root", i, i + 5));
  const b = TW.layoutTrace(fan);
  assert.equal(b.rows.length, n + 1);
  assert.equal(TW.visibleRows(b.rows).length, n + 1);
  b.rows[0].collapsed = true;
  assert.equal(TW.visibleRows(b.rows).length, 1);
});

test("compare: per-path totals with self time", () => {
  const spans = [span("a", null, 0, 100, { service: "gw", name: "GET" }),
    span("b", "a", 10, 90, { service: "db", name: "SELECT" })];
  const { totals, total } = TW.pathTotals(spans);
  assert.equal(total, 100);
  assert.equal(totals.get("gw: GET").self, 20);
  assert.equal(totals.get("gw: GET › db: SELECT").ns, 80);
});
