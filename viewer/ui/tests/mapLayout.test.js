"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
require("../format.js");
const TW = require("../mapLayout.js");

const node = (service) => ({ service, spans: 1, errors: 0, inferred: false });
const edge = (from, to, kind) => ({ from, to, kind, calls: 1, errors: 0, rate_per_s: 1, error_rate: 0, p50_ms: 1, p99_ms: 1 });

test("callers sit left of the services they call", () => {
  const map = { nodes: ["a", "b", "c"].map(node), edges: [edge("a", "b", "rpc"), edge("b", "c", "rpc")] };
  const { pos } = TW.mapLayout(map);
  assert.ok(pos.get("a").x < pos.get("b").x && pos.get("b").x < pos.get("c").x);
});

test("parallel edges (either way, any kind) take distinct paths and label anchors", () => {
  const map = {
    nodes: ["a", "b", "c"].map(node),
    edges: [edge("a", "b", "rpc"), edge("a", "b", "link"), edge("a", "b", "messaging"),
      edge("b", "a", "rpc"), edge("a", "c", "rpc"), edge("b", "c", "rpc"), edge("b", "b", "call")],
  };
  const { edges } = TW.mapLayout(map);
  assert.equal(new Set(edges.map((e) => e.d)).size, edges.length, "no two paths the same");
  const anchors = edges.map((e) => `${Math.round(e.lx)},${Math.round(e.ly)}`);
  assert.equal(new Set(anchors).size, anchors.length, "no two labels at one place");
});

test("many edges from one node fan out", () => {
  const targets = Array.from({ length: 12 }, (_, i) => "t" + i);
  const map = { nodes: ["hub", ...targets].map(node), edges: targets.map((t) => edge("hub", t, "rpc")) };
  const { edges, pos } = TW.mapLayout(map);
  const ys = new Set(targets.map((t) => pos.get(t).y));
  assert.equal(ys.size, targets.length, "each target its own row");
  assert.equal(new Set(edges.map((e) => e.d)).size, targets.length);
});

test("callbacks do not push services across the map: a cycle keeps two columns", () => {
  const targets = Array.from({ length: 12 }, (_, i) => "svc-" + i);
  const edges = targets.map((t) => edge("hub", t, "rpc"));
  for (const t of targets.slice(0, 3)) edges.push(edge(t, "hub", "rpc"));
  const map = { nodes: ["hub", ...targets, "alone"].map(node), edges };
  const level = TW.mapLevels(map);
  assert.equal(level.get("hub"), 0);
  for (const t of targets) assert.equal(level.get(t), 1, t);
  assert.equal(level.get("alone"), 0);
  const { width } = TW.mapLayout(map);
  assert.equal(width, 60 + 2 * (TW.MAP.W + TW.MAP.GAPX));
});
