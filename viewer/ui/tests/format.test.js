"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const TW = require("../format.js");

test("every pair of palette colours is at least 20 apart (CIE76), none is the error red", () => {
  const p = TW.PALETTE;
  for (let i = 0; i < p.length; i++) {
    assert.ok(TW.deltaE(p[i], "#d62d20") >= 20, p[i]);
    for (let j = i + 1; j < p.length; j++) assert.ok(TW.deltaE(p[i], p[j]) >= 20, `${p[i]} ${p[j]}`);
  }
  // The two colours the old palette could not tell apart.
  assert.ok(TW.deltaE("#76b7b2", "#86bcb6") < 20);
});

test("a service keeps its colour whatever order services arrive in, and services of a page differ", () => {
  const services = ["gateway", "inventory", "order-worker", "db", "payments", "mailer"];
  const a = TW.colorPicker(TW.PALETTE);
  const b = TW.colorPicker(TW.PALETTE);
  const first = services.map(a);
  assert.equal(new Set(first).size, services.length);
  assert.equal(b("gateway"), a("gateway"));
  assert.equal(a("gateway"), first[0], "asked again, the same");
});

test("plurals and ellipses", () => {
  assert.equal(TW.plural(1, "error"), "1 error");
  assert.equal(TW.plural(2, "error"), "2 errors");
  assert.equal(TW.plural(0, "span"), "0 spans");
  assert.equal(TW.ellipsize("x".repeat(10_000), 80).length, 80);
  assert.ok(TW.ellipsize("x".repeat(10_000), 80).endsWith("…"));
  assert.equal(TW.ellipsize("short", 80), "short");
});

test("min and max of 300,000 values without spreading them into a call", () => {
  const xs = Array.from({ length: 300_000 }, (_, i) => i);
  assert.throws(() => Math.max(...Array.from({ length: 2_000_000 }, () => 1)), RangeError);
  assert.equal(TW.maxOf(xs, (x) => x, 0), 299_999);
  assert.equal(TW.minOf(xs, (x) => x + 5, 0), 5);
  assert.equal(TW.maxOf([], (x) => x, 7), 7);
});

test("own keys only", () => {
  const attrs = JSON.parse('{"__proto__": "x"}');
  assert.ok(TW.hasOwn(attrs, "__proto__"));
  assert.ok(!TW.hasOwn(attrs, "constructor"));
  assert.ok(!TW.hasOwn({}, "toString"));
});
