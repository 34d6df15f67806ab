// traceweave-view UI. One page, two data sources: the server's JSON API (serve), or the
// document inlined in the page (report: window.TW_DATA). No network access beyond its server.
"use strict";

const DATA = window.TW_DATA;
const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "style") e.setAttribute("style", v);
    else e.setAttribute(k, v);
  }
  for (const kid of kids) if (kid != null) e.append(kid);
  return e;
};
const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}, text) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
};

// ---- formatting ----------------------------------------------------------------------------
function fmtDur(ns) {
  if (ns === 0) return "0";
  const ms = ns / 1e6;
  if (ms >= 1000) return (ms / 1000).toFixed(2) + " s";
  if (ms >= 10) return ms.toFixed(1) + " ms";
  if (ms >= 0.01) return ms.toFixed(2) + " ms";
  return (ns / 1e3).toFixed(1) + " µs";
}
function fmtTime(ns) {
  const d = new Date(ns / 1e6);
  return d.toLocaleDateString() + " " + d.toLocaleTimeString();
}
const KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
  "#86bcb6", "#9c755f", "#5b8ff9", "#d4a6c8", "#8cd17d", "#a0cbe8"];
// Colours go to services in the order the page first learns of them (the sorted service list
// at start), so the services of one page never share a colour until the palette runs out.
const colors = new Map();
function colorOf(service) {
  if (!colors.has(service)) colors.set(service, PALETTE[colors.size % PALETTE.length]);
  return colors.get(service);
}
const chip = (service, extra) => el("span", { class: "chip", "data-service": service },
  el("span", { class: "dot", style: `background:${colorOf(service)}` }), service + (extra || ""));
const show = (v) => typeof v === "string" ? v : JSON.stringify(v);

// ---- data sources --------------------------------------------------------------------------
async function getJSON(path) {
  const r = await fetch(path);
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}
const attrMatch = (attrs, k, v) => k in attrs && (show(attrs[k]) === v || String(attrs[k]) === v);
const api = DATA ? {
  services: async () => DATA.services,
  trace: async (id) => DATA.spans[id.toLowerCase()] || null,
  map: async () => DATA.map,
  traces: async (q) => {
    const pairs = (q.attr || "").split(/\s+/).filter((p) => p.includes("="))
      .map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]);
    const id = (q.trace_id || "").trim().toLowerCase();
    const out = DATA.traces.filter((t) => {
      const spans = DATA.spans[t.trace_id] || [];
      if (id && !t.trace_id.startsWith(id)) return false;
      if (q.service && !(q.service in t.services)) return false;
      if (q.operation && !spans.some((s) => s.name === q.operation && (!q.service || s.service === q.service))) return false;
      if (q.min_ms && t.duration_ns < q.min_ms * 1e6) return false;
      if (q.max_ms && t.duration_ns > q.max_ms * 1e6) return false;
      if (q.error && !t.error_count) return false;
      return pairs.every(([k, v]) => spans.some((s) => attrMatch(s.attributes, k, v)));
    });
    return out.slice(0, Number(q.limit) || 100);
  },
} : {
  services: () => getJSON("api/services"),
  trace: (id) => getJSON("api/traces/" + encodeURIComponent(id)),
  map: (windowS) => getJSON("api/map?window_s=" + windowS),
  traces: (q) => getJSON("api/traces?" + new URLSearchParams(q)),
};

// ---- routing -------------------------------------------------------------------------------
const VIEWS = ["search", "trace", "map", "compare"];
function route() {
  const parts = (location.hash || "#/search").slice(2).split("/");
  const view = VIEWS.includes(parts[0]) ? parts[0] : "search";
  for (const v of VIEWS) $("#view-" + v).hidden = v !== view;
  for (const a of document.querySelectorAll("nav a"))
    a.classList.toggle("active", a.dataset.tab === (view === "trace" ? "search" : view));
  if (view === "search") runSearch();
  if (view === "trace") openTrace(parts[1] || "");
  if (view === "map") drawMap();
  if (view === "compare") openCompare(parts[1], parts[2]);
}
window.addEventListener("hashchange", route);

// ---- search --------------------------------------------------------------------------------
let services = [];
const selected = new Set();
async function loadServices() {
  services = (await api.services()) || [];
  for (const s of services.map((s) => s.service).sort()) colorOf(s);
  const form = $("#search-form");
  const current = form.service.value;
  form.service.replaceChildren(el("option", { value: "", text: "all" }),
    ...services.map((s) => el("option", { value: s.service, text: s.service })));
  form.service.value = current;
  fillOperations();
}
function fillOperations() {
  const form = $("#search-form");
  const current = form.operation.value;
  const svc = services.find((s) => s.service === form.service.value);
  const ops = svc ? svc.operations : [...new Set(services.flatMap((s) => s.operations))].sort();
  form.operation.replaceChildren(el("option", { value: "", text: "all" }),
    ...ops.map((o) => el("option", { value: o, text: o })));
  if (ops.includes(current)) form.operation.value = current;
}
function searchQuery() {
  const form = $("#search-form");
  const q = {};
  for (const name of ["service", "operation", "attr", "min_ms", "max_ms", "trace_id", "limit"]) {
    const v = form[name].value.trim();
    if (v) q[name] = v;
  }
  if (form.error.checked) q.error = "true";
  return q;
}
// The latest search wins: a submit while a live refresh is in flight is not dropped, and an
// older answer arriving late never replaces a newer one. The list carries the query it shows.
let searchSeq = 0;
async function runSearch() {
  const seq = ++searchSeq;
  const q = searchQuery();
  const list = $("#trace-list");
  try {
    const traces = await api.traces(q);
    if (seq !== searchSeq) return;
    renderList(traces || []);
  } catch (e) {
    if (seq !== searchSeq) return;
    list.replaceChildren(el("li", { class: "empty", text: String(e) }));
  }
  list.dataset.query = new URLSearchParams(q).toString();
}
function renderList(traces) {
  $("#result-count").textContent = `${traces.length} trace${traces.length === 1 ? "" : "s"}`;
  const max = Math.max(1, ...traces.map((t) => t.duration_ns));
  const list = $("#trace-list");
  if (!traces.length) {
    list.replaceChildren(el("li", { class: "empty", text: "No traces match." }));
    return;
  }
  list.replaceChildren(...traces.map((t) => {
    const box = el("input", { type: "checkbox", title: "select to compare" });
    box.checked = selected.has(t.trace_id);
    box.addEventListener("click", (ev) => {
      ev.stopPropagation();
      if (box.checked) selected.add(t.trace_id); else selected.delete(t.trace_id);
      updateCompareButton();
    });
    const svcs = Object.entries(t.services).sort((a, b) => b[1] - a[1]);
    return el("li", {
      class: "trace-row" + (t.error_count ? " error" : ""), "data-trace-id": t.trace_id,
      onclick: () => { location.hash = "#/trace/" + t.trace_id; },
    },
    box,
    el("div", {},
      el("div", { class: "trace-title" }, `${t.root_service}: ${t.root_name}`),
      el("div", { class: "trace-services" }, ...svcs.map(([s, n]) => chip(s, ` ${n}`)))),
    el("div", {}, el("div", { class: "trace-duration", text: fmtDur(t.duration_ns) }),
      el("div", { class: "durbar", style: `width:${Math.max(2, 100 * t.duration_ns / max)}%` })),
    el("div", {}, `${t.span_count} spans`, t.error_count
      ? el("div", {}, el("span", { class: "badge-error", text: `${t.error_count} error${t.error_count > 1 ? "s" : ""}` }))
      : null),
    el("div", { class: "muted" }, fmtTime(t.start_ns), el("div", { text: t.trace_id.slice(0, 12) + "…" })));
  }));
}
function updateCompareButton() {
  const b = $("#compare-selected");
  b.textContent = `Compare selected (${selected.size}/2)`;
  b.disabled = selected.size !== 2;
}
$("#compare-selected").addEventListener("click", () => {
  const [a, b] = [...selected];
  location.hash = `#/compare/${a}/${b}`;
});
$("#search-form").addEventListener("submit", (ev) => { ev.preventDefault(); runSearch(); });
$("#search-form").service.addEventListener("change", fillOperations);

// ---- waterfall -----------------------------------------------------------------------------
// Arranges a trace's spans as rows: children under parents, earliest first; a span whose
// parent is missing starts a branch of its own. A remote child drawn outside its parent's time
// (clock skew between hosts) is shifted with its subtree into the parent, and marked.
function layoutTrace(spans) {
  const byId = new Map(spans.map((s) => [s.span_id, s]));
  const kids = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parent_id && byId.has(s.parent_id) && s.parent_id !== s.span_id) {
      if (!kids.has(s.parent_id)) kids.set(s.parent_id, []);
      kids.get(s.parent_id).push(s);
    } else roots.push(s);
  }
  const t0 = Math.min(...spans.map((s) => s.start_ns));
  const byStart = (a, b) => a.start_ns - b.start_ns;
  roots.sort(byStart);
  const rows = [];
  const seen = new Set();
  const stack = roots.slice().reverse().map((s) => [s, 0, 0, null]);
  // Spans caught in a parent cycle (bad data) are reached from none of the roots: each left
  // over starts a branch of its own once the roots are done.
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
  const total = Math.max(1, ...rows.map((r) => r.end));
  return { rows, total, t0 };
}

let current = null; // { id, rows, total, visible, selected }
async function openTrace(id) {
  const t = performance.now();
  const spans = await api.trace(id);
  if (!spans || !spans.length) {
    $("#trace-header").replaceChildren(el("div", { class: "empty", text: `Trace ${id} is not stored here.` }));
    $("#rows").replaceChildren();
    $("#rows-spacer").style.height = "0px";
    $("#detail").hidden = true;
    return;
  }
  window.TW_LAST_FETCH_MS = performance.now() - t;
  const layout = layoutTrace(spans);
  current = { id, ...layout, selected: null };
  const svcCount = {};
  for (const s of spans) svcCount[s.service] = (svcCount[s.service] || 0) + 1;
  const errors = spans.filter((s) => s.status === 2).length;
  const root = layout.rows[0].span;
  $("#trace-header").replaceChildren(
    el("h2", {}, `${root.service}: ${root.name}`),
    el("div", {}, el("b", { text: fmtDur(layout.total) }), ` · ${spans.length} spans · `,
      `${Object.keys(svcCount).length} services · trace `, el("code", { id: "trace-id", text: id }),
      errors ? el("span", {}, " · ", el("span", { class: "badge-error", text: `${errors} errors` })) : null,
      ` · started ${fmtTime(layout.t0)}`),
    el("div", { class: "trace-services" }, ...Object.entries(svcCount).map(([s, n]) => chip(s, ` ${n}`))));
  $("#detail").hidden = true;
  drawTicks(layout.total);
  refreshRows();
  $("#rows-viewport").scrollTop = 0;
  renderRows();
  window.TW_LAST_RENDER_MS = performance.now() - t;
}
function drawTicks(total) {
  const ticks = $("#ticks");
  ticks.replaceChildren();
  for (let i = 0; i <= 4; i++) {
    ticks.append(el("span", { class: "tick", style: `left:calc(${i * 25}% * (1 - 70 / ${ticks.clientWidth || 800}))`,
      text: fmtDur(total * i / 4) }));
  }
}
function refreshRows() {
  // Rows whose ancestors are all expanded.
  const visible = [];
  const hiddenUnder = [];
  for (const r of current.rows) {
    while (hiddenUnder.length && r.depth <= hiddenUnder[hiddenUnder.length - 1]) hiddenUnder.pop();
    if (hiddenUnder.length) continue;
    visible.push(r);
    if (r.collapsed) hiddenUnder.push(r.depth);
  }
  current.visible = visible;
  $("#rows-spacer").style.height = `${visible.length * ROW}px`;
}
const ROW = 24;
function renderRows() {
  if (!current || $("#view-trace").hidden) return;
  const vp = $("#rows-viewport");
  const first = Math.max(0, Math.floor(vp.scrollTop / ROW) - 10);
  const last = Math.min(current.visible.length, Math.ceil((vp.scrollTop + vp.clientHeight) / ROW) + 10);
  const rowsEl = $("#rows");
  rowsEl.style.top = `${first * ROW}px`;
  const out = [];
  for (let i = first; i < last; i++) out.push(spanRow(current.visible[i]));
  rowsEl.replaceChildren(...out);
}
$("#rows-viewport").addEventListener("scroll", () => requestAnimationFrame(renderRows));
window.addEventListener("resize", () => { if (current) { drawTicks(current.total); renderRows(); } });
function spanRow(r) {
  const s = r.span;
  const left = 100 * r.start / current.total;
  const width = Math.max(0.15, 100 * (r.end - r.start) / current.total);
  const error = s.status === 2;
  const toggle = el("span", { class: "toggle", text: r.children ? (r.collapsed ? "▸" : "▾") : "" });
  if (r.children) toggle.addEventListener("click", (ev) => {
    ev.stopPropagation();
    r.collapsed = !r.collapsed;
    refreshRows();
    renderRows();
  });
  return el("div", {
    class: "span-row" + (error ? " error" : "") + (current.selected === s.span_id ? " selected" : ""),
    "data-span-id": s.span_id, "data-depth": r.depth, "data-service": s.service,
    "data-parent-id": s.parent_id || "",
    onclick: () => { current.selected = s.span_id; showDetail(r); renderRows(); },
  },
  el("div", { class: "span-label", style: `padding-left:${4 + r.depth * 14}px` }, toggle,
    el("span", { class: "dot", style: `background:${colorOf(s.service)}` }),
    el("span", { class: "span-svc", text: s.service }),
    el("span", { class: "span-name", text: s.name }),
    error ? el("span", { class: "err-mark", title: s.status_message || "error", text: "!" }) : null,
    r.skew ? el("span", { class: "skew-mark", title: `clock skew: drawn ${fmtDur(Math.abs(r.skew))} ${r.skew > 0 ? "later" : "earlier"} to sit in its parent`, text: "skew" }) : null),
  el("div", { class: "span-track" },
    el("div", { class: "span-bar", style: `left:${left}%;width:${width}%;background:${colorOf(s.service)}` }),
    el("span", { class: "span-dur", style: `left:${Math.min(left + width, 100)}%`, text: fmtDur(s.end_ns - s.start_ns) })));
}
function kvTable(obj) {
  const keys = Object.keys(obj || {}).sort();
  if (!keys.length) return el("div", { class: "muted", text: "none" });
  return el("table", { class: "grid" }, el("tbody", {}, ...keys.map((k) =>
    el("tr", {}, el("th", { text: k }), el("td", { text: show(obj[k]) })))));
}
function showDetail(r) {
  const s = r.span;
  const d = $("#detail");
  d.hidden = false;
  const status = ["unset", "ok", "error"][s.status] + (s.status_message ? `: ${s.status_message}` : "");
  d.replaceChildren(
    el("h3", {}, chip(s.service), " ", s.name),
    el("table", { class: "grid" }, el("tbody", {},
      ...[["kind", KINDS[s.kind] || "unspecified"], ["status", status],
        ["duration", fmtDur(s.end_ns - s.start_ns)],
        ["start", `+${fmtDur(s.start_ns - current.t0)}` + (r.skew ? ` (drawn shifted by ${fmtDur(r.skew)}: clock skew)` : "")],
        ["span id", s.span_id], ["parent id", s.parent_id || "none (root)"], ["scope", s.scope || ""]]
        .map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { class: k === "status" && s.status === 2 ? "err-mark" : "", text: v }))))),
    el("h4", { text: "Attributes" }), kvTable(s.attributes),
    el("h4", { text: `Events (${s.events.length})` }),
    s.events.length ? el("table", { class: "grid" }, el("tbody", {}, ...s.events.map((e) =>
      el("tr", {}, el("th", { text: `+${fmtDur(e.time_ns - current.t0)}` }), el("td", {}, el("b", { text: e.name }), kvTable(e.attributes))))))
      : el("div", { class: "muted", text: "none" }),
    el("h4", { text: `Links (${s.links.length})` }),
    s.links.length ? el("ul", {}, ...s.links.map((l) => el("li", {},
      el("a", { class: "link", href: `#/trace/${l.trace_id}`, text: `trace ${l.trace_id} · span ${l.span_id}` }),
      Object.keys(l.attributes).length ? kvTable(l.attributes) : null)))
      : el("div", { class: "muted", text: "none" }),
    el("h4", { text: "Resource" }), kvTable(s.resource));
}

// ---- service map ---------------------------------------------------------------------------
async function drawMap() {
  const windowS = Number($("#map-window").value);
  const map = await api.map(windowS);
  const box = $("#map");
  box.replaceChildren();
  const tbody = $("#map-edges tbody");
  tbody.replaceChildren();
  if (!map || !map.nodes.length) {
    $("#map-summary").textContent = "No spans in this window.";
    return;
  }
  $("#map-summary").textContent = `${map.nodes.length} services, ${map.edges.length} edges, ` +
    `${fmtTime(map.from_ns)} – ${fmtTime(map.to_ns)}`;
  // Layers: a node sits one column right of its furthest caller (cycles cut after N rounds).
  const level = new Map(map.nodes.map((n) => [n.service, 0]));
  for (let round = 0; round < map.nodes.length; round++) {
    let changed = false;
    for (const e of map.edges) {
      if (e.from === e.to) continue;
      const want = level.get(e.from) + 1;
      if (want > level.get(e.to) && want < map.nodes.length) { level.set(e.to, want); changed = true; }
    }
    if (!changed) break;
  }
  const columns = [];
  for (const n of map.nodes) (columns[level.get(n.service)] ||= []).push(n);
  const W = 170, H = 46, GAPX = 250, GAPY = 90;
  const pos = new Map();
  const height = Math.max(...columns.map((c) => (c || []).length)) * (H + GAPY) + 40;
  columns.forEach((col, x) => (col || []).forEach((n, y) => {
    const top = (height - col.length * (H + GAPY)) / 2 + y * (H + GAPY) + GAPY / 2;
    pos.set(n.service, { x: 30 + x * (W + GAPX), y: top });
  }));
  const width = 60 + columns.length * (W + GAPX);
  box.setAttribute("viewBox", `0 0 ${width} ${height}`);
  // As tall as the drawing at the page's width (no empty band above and below it).
  box.style.height = `${Math.round(Math.max(220, Math.min(720, height * box.clientWidth / width)))}px`;
  const defs = svg("defs");
  defs.append(Object.assign(svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" })));
  defs.firstChild.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#7d8597" }));
  box.append(defs);
  const pairIndex = new Map(); // parallel edges (an rpc and a link between the same services)
  map.edges.forEach((e, i) => {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) return;
    const pair = e.from + "\u0000" + e.to;
    const k = pairIndex.get(pair) || 0;
    pairIndex.set(pair, k + 1);
    let d, lx, ly;
    if (b.x > a.x) {
      const off = (k % 2 ? 1 : -1) * Math.ceil(k / 2) * 14;
      const x1 = a.x + W, y1 = a.y + H / 2 + off, x2 = b.x, y2 = b.y + H / 2 + off;
      const bend = k ? (k % 2 ? 1 : -1) * 40 * Math.ceil(k / 2) : 0;
      d = `M${x1},${y1} C${x1 + 80},${y1 + bend} ${x2 - 80},${y2 + bend} ${x2},${y2}`;
      lx = (x1 + x2) / 2; ly = (y1 + y2) / 2 + (k ? bend * 0.75 + (bend > 0 ? 14 : -22) : -22);
    } else {
      // same column or backwards: an arc above
      const x1 = a.x + W / 2, y1 = a.y, x2 = b.x + W / 2, y2 = b.y;
      const lift = 50 + 12 * (i % 3);
      d = `M${x1},${y1} C${x1},${y1 - lift} ${x2},${y2 - lift} ${x2},${y2}`;
      lx = (x1 + x2) / 2; ly = Math.min(y1, y2) - lift + 10;
    }
    const g = svg("g", { class: "map-edge" + (e.errors ? " errors" : ""), "data-from": e.from, "data-to": e.to, "data-kind": e.kind });
    g.append(svg("path", { d, "marker-end": "url(#arrow)" }));
    const label = `${e.calls} ${e.kind} · ${fmtRate(e.rate_per_s)} · ${(100 * e.error_rate).toFixed(0)}% err`;
    g.append(svg("text", { x: lx, y: ly, "text-anchor": "middle" }, label));
    g.append(svg("text", { x: lx, y: ly + 13, "text-anchor": "middle" }, `p50 ${e.p50_ms.toFixed(1)} ms · p99 ${e.p99_ms.toFixed(1)} ms`));
    box.append(g);
    tbody.append(el("tr", { "data-from": e.from, "data-to": e.to, "data-kind": e.kind },
      el("td", {}, chip(e.from)), el("td", {}, chip(e.to)), el("td", { text: e.kind }),
      el("td", { class: "num", text: e.calls }), el("td", { class: "num", text: fmtRate(e.rate_per_s) }),
      el("td", { class: "num", text: `${e.errors} (${(100 * e.error_rate).toFixed(1)}%)` }),
      el("td", { class: "num", text: `${e.p50_ms.toFixed(2)} ms` }), el("td", { class: "num", text: `${e.p99_ms.toFixed(2)} ms` })));
  });
  for (const n of map.nodes) {
    const p = pos.get(n.service);
    const g = svg("g", { class: "map-node" + (n.inferred ? " inferred" : "") + (n.errors ? " has-errors" : ""),
      "data-service": n.service, transform: `translate(${p.x},${p.y})` });
    g.append(svg("rect", { width: W, height: H, rx: 8, fill: n.inferred ? "#f2f3f6" : "#fff" }));
    g.append(svg("rect", { width: 8, height: H, rx: 3, fill: colorOf(n.service), stroke: "none" }));
    g.append(svg("text", { x: 16, y: 19, "font-weight": 600 }, n.service));
    g.append(svg("text", { x: 16, y: 36, fill: "#6b7280" },
      n.inferred ? "seen from its callers" : `${n.spans} spans · ${n.errors} errors`));
    box.append(g);
  }
}
const fmtRate = (r) => r >= 1 ? `${r.toFixed(1)}/s` : `${(r * 60).toFixed(1)}/min`;
$("#map-window").addEventListener("change", drawMap);

// ---- compare -------------------------------------------------------------------------------
// Spans are matched by their path of service:name from the root, so the same operation in two
// requests lines up even though every id differs.
function pathTotals(spans) {
  const { rows } = layoutTrace(spans);
  const path = new Map();
  const totals = new Map();
  // Self time: a span's duration less its children's, so the row that got slower stands out
  // from the ancestors that only waited for it.
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
  return { totals, total: Math.max(...rows.map((r) => r.end)) };
}
async function openCompare(a, b) {
  const form = $("#compare-form");
  if (a) form.a.value = a;
  if (b) form.b.value = b;
  const out = $("#compare-result");
  if (!a || !b) {
    out.replaceChildren(el("div", { class: "empty", text: "Pick two traces: tick them in the trace list, or paste their ids." }));
    return;
  }
  const [sa, sb] = await Promise.all([api.trace(a), api.trace(b)]);
  if (!sa || !sb) {
    out.replaceChildren(el("div", { class: "empty", text: `Trace ${!sa ? a : b} is not stored here.` }));
    return;
  }
  const A = pathTotals(sa), B = pathTotals(sb);
  const keys = [...new Set([...A.totals.keys(), ...B.totals.keys()])];
  const rows = keys.map((k) => {
    const x = A.totals.get(k), y = B.totals.get(k);
    return { k, x, y, delta: (y ? y.ns : 0) - (x ? x.ns : 0), selfDelta: (y ? y.self : 0) - (x ? x.self : 0) };
  }).sort((p, q) => Math.abs(q.selfDelta) - Math.abs(p.selfDelta) || Math.abs(q.delta) - Math.abs(p.delta));
  const cls = (r) => {
    if (!r.x || !r.y) return "";
    if (r.delta > 1e6 && r.delta > 0.1 * r.x.ns) return "slower";
    if (-r.delta > 1e6 && -r.delta > 0.1 * r.x.ns) return "faster";
    return "";
  };
  const cell = (t) => t ? `${fmtDur(t.ns)}${t.count > 1 ? ` (${t.count}×)` : ""}${t.errors ? " !" : ""}` : "—";
  const totalDelta = B.total - A.total;
  const deltaText = (r) => {
    if (!r.x) return "only in B";
    if (!r.y) return "only in A";
    return (r.delta >= 0 ? "+" : "−") + fmtDur(Math.abs(r.delta));
  };
  const signed = (ns) => (ns >= 0 ? "+" : "−") + fmtDur(Math.abs(ns));
  const body = rows.map((r, i) => el("tr", { class: cls(r) + (i === 0 && r.x && r.y && r.selfDelta > 1e6 ? " culprit" : ""), "data-path": r.k },
    el("td", { text: r.k }), el("td", { class: "num", text: cell(r.x) }),
    el("td", { class: "num", text: cell(r.y) }), el("td", { class: "num", text: deltaText(r) }),
    el("td", { class: "num", text: r.x && r.y ? signed(r.selfDelta) : "" })));
  const head = el("tr", {}, ...["Operation path", "A", "B", "B − A", "self time B − A"].map((h) => el("th", { text: h })));
  out.replaceChildren(
    el("p", {}, `A: ${fmtDur(A.total)} · B: ${fmtDur(B.total)} · `,
      el("b", { id: "compare-total", text: `B is ${fmtDur(Math.abs(totalDelta))} ${totalDelta >= 0 ? "slower" : "faster"}` })),
    el("table", { class: "grid", id: "compare-table" }, el("thead", {}, head), el("tbody", {}, ...body)));
}
$("#compare-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = ev.target;
  location.hash = `#/compare/${f.a.value.trim()}/${f.b.value.trim()}`;
});

// ---- start ---------------------------------------------------------------------------------
if (DATA) {
  $("#mode").textContent = `${DATA.title} · ${DATA.traces.length} traces · written ${fmtTime(DATA.generated_ns)}`;
  for (const e of document.querySelectorAll(".live-only")) e.hidden = true;
  $("#map-window").replaceChildren(el("option", { value: "0", text: "the whole report" }));
} else {
  $("#mode").textContent = "live";
  setInterval(async () => {
    if (!$("#live").checked || $("#view-search").hidden) return;
    try {
      await loadServices();
      await runSearch();
      $("#mode").textContent = "live";
    } catch (e) {
      $("#mode").textContent = "live · the server does not answer";
    }
  }, 3000);
}
loadServices().then(route);
