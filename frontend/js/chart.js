// chart: inline SVG charts, drawn from numbers with no library.

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(v) {
  if (v <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return v;
}

// Stacked bars (series of {key, cls, label}) per item, an optional line
// ({key, cls, label}, its own scale on the right) and x labels from xLabel.
// width is the drawing's width in CSS pixels (its container's), so that text
// keeps its size on every screen; x labels are thinned to fit.
export function barChart({ items, series, line, xLabel, title, width = 720, height = 180 }) {
  width = Math.max(240, Math.round(width));
  const pad = { l: 34, r: line ? 34 : 8, t: 10, b: 22 };
  const w = width - pad.l - pad.r;
  const labelEvery = Math.max(1, Math.ceil((items.length * 44) / w));
  const hgt = height - pad.t - pad.b;
  const max = niceMax(Math.max(0, ...items.map((it) => series.reduce((a, sr) => a + (it[sr.key] || 0), 0))));
  const lmax = line ? niceMax(Math.max(0, ...items.map((it) => it[line.key] || 0))) : 1;
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  svg.append(s("title", {}, title));
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + hgt - (hgt * i) / 4;
    svg.append(s("line", { class: "axis", x1: pad.l, x2: pad.l + w, y1: y, y2: y }));
    svg.append(s("text", { x: pad.l - 4, y: y + 4, "text-anchor": "end" }, String(Math.round((max * i) / 4))));
    if (line) svg.append(s("text", { x: pad.l + w + 4, y: y + 4 }, String(Math.round((lmax * i) / 4))));
  }
  const bw = w / Math.max(items.length, 1);
  items.forEach((it, i) => {
    let y = pad.t + hgt;
    const x = pad.l + i * bw;
    const tip = [xLabel(it), ...series.map((sr) => `${sr.label}: ${it[sr.key] || 0}`),
      ...(line ? [`${line.label}: ${it[line.key] || 0}`] : [])].join("\n");
    const g = s("g");
    g.append(s("title", {}, tip));
    for (const sr of series) {
      const v = it[sr.key] || 0;
      if (!v) continue;
      const bh = (hgt * v) / max;
      y -= bh;
      g.append(s("rect", { class: sr.cls, x: x + bw * 0.15, y, width: Math.max(bw * 0.7, 1), height: bh, rx: 1.5 }));
    }
    // A transparent full-height hit area so the tooltip works on empty hours.
    g.append(s("rect", { x, y: pad.t, width: bw, height: hgt, fill: "transparent" }));
    svg.append(g);
    if (i % labelEvery === 0)
      svg.append(s("text", { x: x + bw / 2, y: height - 6, "text-anchor": "middle" }, xLabel(it, true)));
  });
  if (line) {
    const pts = items.map((it, i) => [pad.l + i * bw + bw / 2, pad.t + hgt - (hgt * (it[line.key] || 0)) / lmax]);
    svg.append(s("polyline", { class: line.cls, points: pts.map((p) => p.join(",")).join(" ") }));
    for (const [x, y] of pts) svg.append(s("circle", { class: `${line.cls}-dot`, cx: x, cy: y, r: 2 }));
  }
  return svg;
}
