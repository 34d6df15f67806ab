// The report's search (search.js) against the table the server's SQL search is checked
// against too (viewer/tests/cases/search.json, by viewer/tests/serve.rs).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
require("../format.js");
const TW = require("../search.js");

// The report's data as `report.rs` writes it: summaries and spans by trace.
function reportData(spans) {
  const byTrace = new Map();
  for (const s of spans) {
    const full = { parent_id: null, status_message: "", events: [], links: [], scope: "", ...s };
    if (!byTrace.has(s.trace_id)) byTrace.set(s.trace_id, []);
    byTrace.get(s.trace_id).push(full);
  }
  const traces = [];
  const bySpans = Object.create(null);
  for (const [id, list] of byTrace) {
    const start = Math.min(...list.map((s) => s.start_ns));
    const end = Math.max(...list.map((s) => s.end_ns));
    const services = {};
    for (const s of list) services[s.service] = (services[s.service] || 0) + 1;
    traces.push({ trace_id: id, start_ns: start, duration_ns: end - start, span_count: list.length,
      error_count: list.filter((s) => s.status === 2).length, services });
    bySpans[id] = list;
  }
  traces.sort((a, b) => b.start_ns - a.start_ns);
  return { traces, spans: bySpans };
}

const table = JSON.parse(fs.readFileSync(path.join(__dirname, "../../tests/cases/search.json"), "utf8"));
const data = reportData(table.spans);

for (const c of table.cases) {
  test(`search ${JSON.stringify(c.query)}`, () => {
    assert.deepEqual(TW.searchTraces(data, c.query).map((t) => t.trace_id), c.expect);
  });
}
