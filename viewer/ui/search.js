// traceweave-view: the report's trace search — the same filters as the server's SQL
// (`store/search.rs`), checked against one table of cases (tests/search_cases.json) by both.
(function (root) {
  "use strict";
  const TW = root.TW || (root.TW = {});

  // The `key=value` pairs of an attribute filter (split on whitespace, at the first `=`).
  TW.attributePairs = (attr) => String(attr || "").split(/\s+/).filter((p) => p.includes("="))
    .map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]);

  // As the server's SQL compares (`json_each`): strings and numbers as text, booleans as
  // `true`/`false` (or SQLite's 1/0); arrays and maps as their JSON text.
  TW.attrMatch = function attrMatch(attrs, k, v) {
    if (!TW.hasOwn(attrs, k)) return false;
    const a = attrs[k];
    if (typeof a === "boolean") return v === String(a) || v === (a ? "1" : "0");
    if (typeof a === "string") return a === v;
    if (typeof a === "number") return String(a) === v;
    if (a !== null && typeof a === "object") return JSON.stringify(a) === v;
    return false;
  };

  const num = (v) => (v === undefined || v === null || v === "" ? null : Number(v));

  // `data`: { traces: [summary], spans: { trace_id: [span] } }; `q`: the query's parameters
  // (strings, as a URL carries them). Newest first, at most `limit` (default 100).
  TW.searchTraces = function searchTraces(data, q) {
    const pairs = TW.attributePairs(q.attr);
    const id = String(q.trace_id || "").trim().toLowerCase();
    const [minMs, maxMs, since, until] = [num(q.min_ms), num(q.max_ms), num(q.since_ns), num(q.until_ns)];
    const spansOf = (t) => (TW.hasOwn(data.spans, t.trace_id) ? data.spans[t.trace_id] : []);
    const out = data.traces.filter((t) => {
      const spans = spansOf(t);
      if (id && (id.length === 32 ? t.trace_id !== id : !t.trace_id.startsWith(id))) return false;
      if (q.service && !q.operation && !TW.hasOwn(t.services, q.service)) return false;
      if (q.operation && !spans.some((s) => s.name === q.operation && (!q.service || s.service === q.service))) return false;
      if (minMs !== null && t.duration_ns < Math.trunc(minMs * 1e6)) return false;
      if (maxMs !== null && t.duration_ns > Math.trunc(maxMs * 1e6)) return false;
      if (String(q.error) === "true" && !t.error_count) return false;
      if (since !== null && t.start_ns < since) return false;
      if (until !== null && t.start_ns >= until) return false;
      return pairs.every(([k, v]) => spans.some((s) => TW.attrMatch(s.attributes, k, v)));
    });
    out.sort((a, b) => b.start_ns - a.start_ns);
    const limit = num(q.limit);
    return out.slice(0, limit === null ? 100 : limit);
  };

  if (typeof module === "object" && module.exports) module.exports = TW;
})(typeof globalThis !== "undefined" ? globalThis : this);
