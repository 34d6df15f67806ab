// traceweave-view: formatting, colours and small helpers (pure; unit-tested by node --test).
(function (root) {
  "use strict";
  const TW = root.TW || (root.TW = {});

  TW.fmtDur = function fmtDur(ns) {
    if (ns === 0) return "0";
    const ms = ns / 1e6;
    if (ms >= 1000) return (ms / 1000).toFixed(2) + " s";
    if (ms >= 10) return ms.toFixed(1) + " ms";
    if (ms >= 0.01) return ms.toFixed(2) + " ms";
    return (ns / 1e3).toFixed(1) + " µs";
  };

  TW.fmtTime = function fmtTime(ns) {
    const d = new Date(ns / 1e6);
    return d.toLocaleDateString() + " " + d.toLocaleTimeString();
  };

  TW.fmtRate = (r) => (r >= 1 ? `${r.toFixed(1)}/s` : `${(r * 60).toFixed(1)}/min`);

  // "1 error", "2 errors".
  TW.plural = (n, word, many) => `${n} ${n === 1 ? word : many || word + "s"}`;

  // At most `max` characters, an ellipsis marking the cut (the full text goes in a title).
  TW.ellipsize = function ellipsize(text, max) {
    const s = String(text);
    if (s.length <= max) return s;
    return s.slice(0, Math.max(0, max - 1)) + "…";
  };

  TW.KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];

  // A value as the UI shows it.
  TW.show = (v) => (typeof v === "string" ? v : JSON.stringify(v));

  // Own keys only: an attribute named `constructor` or `__proto__` is data, not a prototype.
  TW.hasOwn = (obj, key) => obj != null && Object.prototype.hasOwnProperty.call(obj, key);

  // Smallest and largest of a list without spreading it into a call (a 200,000-span trace
  // would pass the engine's argument limit).
  TW.minOf = function minOf(items, f, empty) {
    let m = Infinity;
    for (const x of items) { const v = f(x); if (v < m) m = v; }
    return m === Infinity ? empty : m;
  };
  TW.maxOf = function maxOf(items, f, empty) {
    let m = -Infinity;
    for (const x of items) { const v = f(x); if (v > m) m = v; }
    return m === -Infinity ? empty : m;
  };

  // Service colours: every pair at least 20 apart in CIE76 ΔE (tests/format.test.js checks),
  // none of them the red that marks errors.
  TW.PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#9c755f",
    "#17becf", "#ff9da7", "#1f3d7a", "#005f5f", "#bab0ac", "#7f3c8d"];

  // A stable colour per service: its name's hash picks the first choice, and a service meeting
  // a colour another service of the page already has moves to the next free one.
  TW.colorPicker = function colorPicker(palette) {
    const taken = new Map(); // colour -> service
    const chosen = new Map(); // service -> colour
    return function colorOf(service) {
      if (chosen.has(service)) return chosen.get(service);
      let h = 2166136261;
      for (let i = 0; i < service.length; i++) { h ^= service.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
      let pick = palette[h % palette.length];
      for (let k = 0; k < palette.length; k++) {
        const c = palette[(h + k) % palette.length];
        if (!taken.has(c)) { pick = c; break; }
      }
      taken.set(pick, service);
      chosen.set(service, pick);
      return pick;
    };
  };

  // CIE76 colour difference of two `#rrggbb` colours (sRGB, D65).
  TW.deltaE = function deltaE(a, b) {
    const lab = (hex) => {
      const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
        .map((v) => (v > 0.04045 ? Math.pow((v + 0.055) / 1.055, 2.4) : v / 12.92));
      const x = (c[0] * 0.4124 + c[1] * 0.3576 + c[2] * 0.1805) / 0.95047;
      const y = c[0] * 0.2126 + c[1] * 0.7152 + c[2] * 0.0722;
      const z = (c[0] * 0.0193 + c[1] * 0.1192 + c[2] * 0.9505) / 1.08883;
      const f = (t) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
      return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
    };
    const [p, q] = [lab(a), lab(b)];
    return Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
  };

  if (typeof module === "object" && module.exports) module.exports = TW;
})(typeof globalThis !== "undefined" ? globalThis : this);
