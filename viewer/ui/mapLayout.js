// traceweave-view: where the service map draws its nodes and edges (pure; unit-tested by
// node --test). Labels are drawn by the page on hover, so they never overlap.
(function (root) {
  "use strict";
  const TW = root.TW || (root.TW = {});

  TW.MAP = { W: 170, H: 46, GAPX: 250, GAPY: 90 };

  // Layers: a node sits one column right of its furthest caller. Calls that close a cycle
  // (found as back edges of a depth-first walk from the services nobody calls) are left out of
  // the layering, so a callback does not push its caller a column further each round.
  TW.mapLevels = function mapLevels(map) {
    const names = map.nodes.map((n) => n.service);
    const out = new Map(names.map((n) => [n, []]));
    const calledBy = new Map(names.map((n) => [n, 0]));
    for (const e of map.edges) {
      if (e.from === e.to || !out.has(e.from) || !out.has(e.to)) continue;
      out.get(e.from).push(e.to);
      calledBy.set(e.to, calledBy.get(e.to) + 1);
    }
    const state = new Map(); // 1: on the walk's path, 2: done
    const dag = new Map(names.map((n) => [n, []]));
    const starts = names.filter((n) => calledBy.get(n) === 0).concat(names);
    for (const start of starts) {
      if (state.has(start)) continue;
      state.set(start, 1);
      const path = [[start, 0]];
      while (path.length) {
        const top = path[path.length - 1];
        const next = out.get(top[0]);
        if (top[1] < next.length) {
          const m = next[top[1]++];
          if (state.get(m) === 1) continue; // closes a cycle
          dag.get(top[0]).push(m);
          if (!state.has(m)) { state.set(m, 1); path.push([m, 0]); }
        } else {
          state.set(top[0], 2);
          path.pop();
        }
      }
    }
    // Longest path over what is left (a DAG), in topological order.
    const level = new Map(names.map((n) => [n, 0]));
    const waiting = new Map(names.map((n) => [n, 0]));
    for (const targets of dag.values()) for (const m of targets) waiting.set(m, waiting.get(m) + 1);
    const ready = names.filter((n) => waiting.get(n) === 0);
    while (ready.length) {
      const n = ready.pop();
      for (const m of dag.get(n)) {
        level.set(m, Math.max(level.get(m), level.get(n) + 1));
        waiting.set(m, waiting.get(m) - 1);
        if (waiting.get(m) === 0) ready.push(m);
      }
    }
    return level;
  };

  // Node positions and the drawing's size.
  TW.mapLayout = function mapLayout(map) {
    const { W, H, GAPX, GAPY } = TW.MAP;
    const level = TW.mapLevels(map);
    const columns = [];
    for (const n of map.nodes) (columns[level.get(n.service)] ||= []).push(n);
    const tallest = TW.maxOf(columns, (c) => (c || []).length, 1);
    const height = tallest * (H + GAPY) + 40;
    const pos = new Map();
    columns.forEach((col, x) => (col || []).forEach((n, y) => {
      const top = (height - col.length * (H + GAPY)) / 2 + y * (H + GAPY) + GAPY / 2;
      pos.set(n.service, { x: 30 + x * (W + GAPX), y: top });
    }));
    const width = 60 + columns.length * (W + GAPX);
    return { pos, width, height, edges: TW.mapEdges(map.edges, pos) };
  };

  // Each edge's path and label anchor. Edges between the same two services (either way, any
  // kind) fan out: the k-th of a pair bends k steps away from the straight line, alternating
  // sides, so parallel edges never lie on each other.
  TW.mapEdges = function mapEdges(edges, pos) {
    const { W, H } = TW.MAP;
    const seen = new Map();
    return edges.map((e) => {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) return null;
      const pair = e.from < e.to ? e.from + "\u0000" + e.to : e.to + "\u0000" + e.from;
      const k = seen.get(pair) || 0;
      seen.set(pair, k + 1);
      const side = k % 2 ? 1 : -1;
      const step = Math.ceil(k / 2);
      if (e.from === e.to) {
        const x = a.x + W / 2, y = a.y;
        const r = 30 + 16 * k;
        return { d: `M${x - 20},${y} C${x - r},${y - 2 * r} ${x + r},${y - 2 * r} ${x + 20},${y}`, lx: x, ly: y - 1.6 * r, k };
      }
      if (b.x > a.x) {
        const off = side * step * 14;
        const x1 = a.x + W, y1 = a.y + H / 2 + off, x2 = b.x, y2 = b.y + H / 2 + off;
        const bend = side * 40 * step;
        return { d: `M${x1},${y1} C${x1 + 80},${y1 + bend} ${x2 - 80},${y2 + bend} ${x2},${y2}`,
          lx: (x1 + x2) / 2, ly: (y1 + y2) / 2 + bend * 0.75, k };
      }
      if (b.x < a.x) {
        // Backwards: below the nodes, each of a pair lower than the last.
        const x1 = a.x, y1 = a.y + H, x2 = b.x + W, y2 = b.y + H;
        const drop = 50 + 24 * k;
        return { d: `M${x1},${y1} C${x1 - 60},${y1 + drop} ${x2 + 60},${y2 + drop} ${x2},${y2}`,
          lx: (x1 + x2) / 2, ly: Math.max(y1, y2) + drop * 0.75, k };
      }
      // Same column: an arc on the right, each of a pair wider than the last.
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x + W, y2 = b.y + H / 2;
      const out = 50 + 24 * k;
      return { d: `M${x1},${y1} C${x1 + out},${y1} ${x2 + out},${y2} ${x2},${y2}`,
        lx: x1 + out * 0.75, ly: (y1 + y2) / 2, k };
    });
  };

  if (typeof module === "object" && module.exports) module.exports = TW;
})(typeof globalThis !== "undefined" ? globalThis : this);
