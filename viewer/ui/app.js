// traceweave-view UI. One page, two data sources: the server's JSON API (serve), or the
// document inlined in the page (report: <script id="tw-data" type="application/json">). No network access beyond its server.
"use strict";

// The report's data: JSON in <script type="application/json">, parsed, never evaluated.
const DATA = (() => {
  const el = document.getElementById("tw-data");
  const text = el ? el.textContent.trim() : "null";
  return text ? JSON.parse(text) : null;
})();
const { fmtDur, fmtTime, fmtRate, plural, ellipsize, KINDS, show } = TW;
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

// ---- colours --------------------------------------------------------------------------------
// Stable per service (its name picks the colour), distinct within a page.
const colorOf = TW.colorPicker(TW.PALETTE);
// Names can be any length: shown cut, in full on hover (and in the details).
const NAME_MAX = 80;
const named = (tag, attrs, text, max = NAME_MAX) =>
  el(tag, { ...attrs, title: String(text), text: ellipsize(text, max) });
const chip = (service, extra) => el("span", { class: "chip", "data-service": service, title: service },
  el("span", { class: "dot", style: `background:${colorOf(service)}` }), ellipsize(service, 40) + (extra || ""));

// ---- data sources --------------------------------------------------------------------------
async function getJSON(path) {
  const r = await fetch(path);
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}
const api = DATA ? {
  services: async () => DATA.services,
  trace: async (id) => (TW.hasOwn(DATA.spans, id.toLowerCase()) ? DATA.spans[id.toLowerCase()] : null),
  map: async () => DATA.map,
  traces: async (q) => TW.searchTraces(DATA, q),
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
  const options = [el("option", { value: "", text: "all" })];
  for (const s of services) options.push(named("option", { value: s.service }, s.service, 48));
  form.service.replaceChildren(...options);
  form.service.value = current;
  fillOperations();
}
function fillOperations() {
  const form = $("#search-form");
  const current = form.operation.value;
  const svc = services.find((s) => s.service === form.service.value);
  const ops = svc ? svc.operations : Array.from(new Set(services.flatMap((s) => s.operations))).sort();
  const options = [el("option", { value: "", text: "all" })];
  for (const o of ops) options.push(named("option", { value: o }, o, 48));
  form.operation.replaceChildren(...options);
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
  $("#result-count").textContent = plural(traces.length, "trace");
  const max = Math.max(1, TW.maxOf(traces, (t) => t.duration_ns, 1));
  const list = $("#trace-list");
  if (!traces.length) {
    list.replaceChildren(el("li", { class: "empty", text: "No traces match." }));
    return;
  }
  const rows = document.createDocumentFragment();
  for (const row of traces.map((t) => {
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
      named("div", { class: "trace-title" }, `${t.root_service}: ${t.root_name}`, 120),
      chips(svcs)),
    el("div", {}, el("div", { class: "trace-duration", text: fmtDur(t.duration_ns) }),
      el("div", { class: "durbar", style: `width:${Math.max(2, 100 * t.duration_ns / max)}%` })),
    el("div", {}, plural(t.span_count, "span"), t.error_count
      ? el("div", {}, el("span", { class: "badge-error", text: plural(t.error_count, "error") }))
      : null),
    el("div", { class: "muted" }, fmtTime(t.start_ns), el("div", { text: t.trace_id.slice(0, 12) + "…" })));
  })) rows.append(row);
  list.replaceChildren(rows);
}
// A trace's services as chips: the first 12, then how many more.
function chips(counts) {
  const box = el("div", { class: "trace-services" });
  for (const [s, n] of counts.slice(0, 12)) box.append(chip(s, ` ${n}`));
  if (counts.length > 12) box.append(el("span", { class: "chip", text: `+${counts.length - 12} more` }));
  return box;
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
// Layout in layout.js (TW.layoutTrace); rows are virtualised, so any number of spans scrolls.
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
  const layout = TW.layoutTrace(spans);
  current = { id, ...layout, selected: null };
  const svcCount = Object.create(null);
  for (const s of spans) svcCount[s.service] = (svcCount[s.service] || 0) + 1;
  let errors = 0;
  for (const s of spans) if (s.status === 2) errors++;
  const root = layout.rows[0].span;
  $("#trace-header").replaceChildren(
    named("h2", {}, `${root.service}: ${root.name}`, 160),
    el("div", {}, el("b", { text: fmtDur(layout.total) }), ` · ${plural(spans.length, "span")} · `,
      `${plural(Object.keys(svcCount).length, "service")} · trace `, el("code", { id: "trace-id", text: id }),
      errors ? el("span", {}, " · ", el("span", { class: "badge-error", text: plural(errors, "error") })) : null,
      ` · started ${fmtTime(layout.t0)}`),
    chips(Object.entries(svcCount)));
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
  const visible = TW.visibleRows(current.rows);
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
  el("div", { class: "span-label", style: `padding-left:${4 + Math.min(r.depth, 40) * 14}px` }, toggle,
    el("span", { class: "dot", style: `background:${colorOf(s.service)}` }),
    named("span", { class: "span-svc" }, s.service, 40),
    named("span", { class: "span-name" }, s.name),
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
    el("h3", {}, chip(s.service), " ", el("span", { class: "full-name", text: s.name })),
    el("table", { class: "grid" }, el("tbody", {},
      ...[["kind", KINDS[s.kind] || "unspecified"], ["status", status],
        ["duration", fmtDur(s.end_ns - s.start_ns)],
        ["start", `+${fmtDur(s.start_ns - current.t0)}` + (r.skew ? ` (drawn shifted by ${fmtDur(r.skew)}: clock skew)` : "")],
        ["span id", s.span_id], ["parent id", s.parent_id || "none (root)"], ["scope", s.scope || ""],
        ...(s.truncated ? [["truncated", `${plural(s.truncated, "value")} cut or dropped at ingest (the viewer's limits)`]] : [])]
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
  const { pos, width, height, edges: geometry } = TW.mapLayout(map);
  const { W, H } = TW.MAP;
  box.setAttribute("viewBox", `0 0 ${width} ${height}`);
  // As tall as the drawing at the page's width (no empty band above and below it).
  box.style.height = `${Math.round(Math.max(220, Math.min(720, height * box.clientWidth / width)))}px`;
  const defs = svg("defs");
  defs.append(Object.assign(svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" })));
  defs.firstChild.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#7d8597" }));
  box.append(defs);
  const labels = svg("g", { class: "map-labels" });
  map.edges.forEach((e, i) => {
    const geo = geometry[i];
    if (!geo) return;
    const g = svg("g", { class: "map-edge" + (e.errors ? " errors" : ""), "data-from": e.from, "data-to": e.to, "data-kind": e.kind });
    const summary = `${e.from} → ${e.to}: ${plural(e.calls, e.kind === "link" ? "link" : "call")} (${e.kind}) · ` +
      `${fmtRate(e.rate_per_s)} · ${(100 * e.error_rate).toFixed(0)}% errors · p50 ${e.p50_ms.toFixed(1)} ms · p99 ${e.p99_ms.toFixed(1)} ms`;
    g.append(svg("title", {}, summary));
    g.append(svg("path", { d: geo.d, "marker-end": "url(#arrow)" }));
    // A wide invisible twin to hover, and the label shown while hovering (never overlapping).
    g.append(svg("path", { d: geo.d, class: "hit" }));
    box.append(g);
    const label = svg("g", { class: "map-label", "data-from": e.from, "data-to": e.to, "data-kind": e.kind });
    label.append(svg("text", { x: geo.lx, y: geo.ly, "text-anchor": "middle" },
      `${plural(e.calls, e.kind === "link" ? "link" : "call")} · ${fmtRate(e.rate_per_s)} · ${(100 * e.error_rate).toFixed(0)}% err`));
    label.append(svg("text", { x: geo.lx, y: geo.ly + 13, "text-anchor": "middle" }, `p50 ${e.p50_ms.toFixed(1)} ms · p99 ${e.p99_ms.toFixed(1)} ms`));
    labels.append(label);
    g.addEventListener("mouseenter", () => label.classList.add("shown"));
    g.addEventListener("mouseleave", () => label.classList.remove("shown"));
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
    g.append(svg("title", {}, n.service));
    g.append(svg("rect", { width: W, height: H, rx: 8, fill: n.inferred ? "#f2f3f6" : "#fff" }));
    g.append(svg("rect", { width: 8, height: H, rx: 3, fill: colorOf(n.service), stroke: "none" }));
    g.append(svg("text", { x: 16, y: 19, "font-weight": 600 }, ellipsize(n.service, 20)));
    g.append(svg("text", { x: 16, y: 36, fill: "#6b7280" },
      n.inferred ? "seen from its callers" : `${plural(n.spans, "span")} · ${plural(n.errors, "error")}`));
    box.append(g);
  }
  box.append(labels); // above nodes and edges
}
$("#map-window").addEventListener("change", drawMap);

// ---- compare -------------------------------------------------------------------------------
// Per-path totals in layout.js (TW.pathTotals).
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
  const A = TW.pathTotals(sa), B = TW.pathTotals(sb);
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
    el("table", { class: "grid", id: "compare-table" }, el("thead", {}, head), tbodyOf(body)));
}
function tbodyOf(rows) {
  const tbody = el("tbody");
  for (const r of rows) tbody.append(r);
  return tbody;
}
$("#compare-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = ev.target;
  location.hash = `#/compare/${f.a.value.trim()}/${f.b.value.trim()}`;
});

// ---- start ---------------------------------------------------------------------------------
if (DATA) {
  $("#mode").textContent = `${DATA.title} · ${plural(DATA.traces.length, "trace")} · written ${fmtTime(DATA.generated_ns)}`;
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
