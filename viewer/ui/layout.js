// traceweave-view: a trace's spans as waterfall rows, and per-path totals for comparison
// (pure; unit-tested by node --test). No list is ever spread into a call.
(function (root) {
  "use strict";
  const TW = root.TW || (root.TW = {});

  // Arranges a trace's spans as rows: children under parents, earliest first; a span whose
  // parent is missing starts a branch of its own. A remote child drawn outside its parent's time
  // (clock skew between hosts) is shifted with its subtree into the parent, and marked. Spans
  // caught in a parent cycle (bad data) each start a branch once the roots are done.
  TW.layoutTrace = function layoutTrace(spans) {
    const byId = new Map();
    for (const s of spans) byId.set(s.span_id, s);
    const kids = new Map();
    const roots = [];
    for (const s of spans) {
      if (s.parent_id && byId.has(s.parent_id) && s.parent_id !== s.span_id) {
        if (!kids.has(s.parent_id)) kids.set(s.parent_id, []);
        kids.get(s.parent_id).push(s);
      } else roots.push(s);
    }
    const t0 = TW.minOf(spans, (s) => s.start_ns, 0);
    const byStart = (a, b) => a.start_ns - b.start_ns;
    roots.sort(byStart);
    const rows = [];
    const seen = new Set();
    const stack = roots.slice().reverse().map((s) => [s, 0, 0, null]);
    const leftOver = spans.slice().sort(byStart).reverse();
    while (stack.length || leftOver.length) {
      if (!stack.length) {
        const s = leftOver.pop();
        if (!seen.has(s.span_id)) stack.push([s, 0, 0, null]);
        continue;
      }
      const [s, depth, inherited, parent] = stack.pop();
      if (seen.has(s.span_id)) continue;
      seen.add(s.span_id);
      let start = (s.start_ns - t0) + inherited;
      let end = (s.end_ns - t0) + inherited;
      let shift = inherited;
      let skew = 0;
      // Across services, a child that starts before its parent can only be clock skew; one that
      // ends after it is skew only for a synchronous call (a server span under its client span):
      // consumers and fire-and-forget children may outlive their parents.
      const sync = parent && s.kind === 2 && parent.span.kind === 3;
      if (parent && parent.span.service !== s.service && (start < parent.start || (sync && end > parent.end))) {
        const dur = end - start;
        const pdur = parent.end - parent.start;
        const delta = sync && dur <= pdur ? parent.start + (pdur - dur) / 2 - start : parent.start - start;
        start += delta; end += delta; shift += delta; skew = delta;
      }
      const row = { span: s, depth, start, end, skew, parent, children: 0, collapsed: false };
      rows.push(row);
      const children = (kids.get(s.span_id) || []).sort(byStart);
      row.children = children.length;
      for (let i = children.length - 1; i >= 0; i--) stack.push([children[i], depth + 1, shift, row]);
    }
    const total = Math.max(1, TW.maxOf(rows, (r) => r.end, 1));
    return { rows, total, t0 };
  };

  // Rows whose ancestors are all expanded.
  TW.visibleRows = function visibleRows(rows) {
    const visible = [];
    const hiddenUnder = [];
    for (const r of rows) {
      while (hiddenUnder.length && r.depth <= hiddenUnder[hiddenUnder.length - 1]) hiddenUnder.pop();
      if (hiddenUnder.length) continue;
      visible.push(r);
      if (r.collapsed) hiddenUnder.push(r.depth);
    }
    return visible;
  };

  // Spans matched by their path of service:name from the root, so the same operation in two
  // requests lines up even though every id differs. Self time: a span's duration less its
  // children's, so the row that got slower stands out from the ancestors that only waited.
  TW.pathTotals = function pathTotals(spans) {
    const { rows } = TW.layoutTrace(spans);
    const path = new Map();
    const totals = new Map();
    const childNs = new Map();
    for (const r of rows) {
      if (r.parent) {
        const id = r.parent.span.span_id;
        childNs.set(id, (childNs.get(id) || 0) + (r.span.end_ns - r.span.start_ns));
      }
    }
    for (const r of rows) {
      const p = (r.parent ? path.get(r.parent.span.span_id) + " › " : "") + `${r.span.service}: ${r.span.name}`;
      path.set(r.span.span_id, p);
      const t = totals.get(p) || { count: 0, ns: 0, self: 0, depth: r.depth, errors: 0 };
      const ns = r.span.end_ns - r.span.start_ns;
      t.count++; t.ns += ns; t.errors += r.span.status === 2 ? 1 : 0;
      t.self += Math.max(0, ns - (childNs.get(r.span.span_id) || 0));
      totals.set(p, t);
    }
    return { totals, total: TW.maxOf(rows, (r) => r.end, 0) };
  };

  if (typeof module === "object" && module.exports) module.exports = TW;
})(typeof globalThis !== "undefined" ? globalThis : this);
