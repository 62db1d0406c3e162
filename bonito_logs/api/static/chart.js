// Small SVG charts drawn by hand: stacked time bars, time lines, horizontal bar lists.
import { el, fmtCount, localText, svg, utcText } from "./common.js";

const SEVERITY_ORDER = ["debug", "info", "warn", "error", "critical"];
export const PALETTE = ["#3f51b5", "#00897b", "#ef6c00", "#c2185b", "#558b2f", "#0288d1", "#8d6e63", "#7b1fa2"];

// Call `redraw` when the chart containers change width (rotation, window resize).
export function onResize(redraw) {
  let timer = null;
  let width = window.innerWidth;
  window.addEventListener("resize", () => {
    if (window.innerWidth === width) return;
    width = window.innerWidth;
    clearTimeout(timer);
    timer = setTimeout(redraw, 200);
  });
}

export function setState(container, state, message) {
  container.dataset.state = state;
  container.replaceChildren(el("span", { class: state === "error" ? "problem" : "muted" }, message));
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function timeLabel(ms, spanMs) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (spanMs <= 2 * 60 * 1000) return `${hm}:${pad(d.getSeconds())}`;
  if (spanMs <= 36 * 3600 * 1000) return hm;
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}${spanMs <= 10 * 86400 * 1000 ? " " + hm : ""}`;
}

function tooltip(container) {
  let tip = container.querySelector(".tip");
  if (!tip) { tip = el("div", { class: "tip", hidden: true }); container.append(tip); }
  return {
    show(x, y, text) { tip.hidden = false; tip.textContent = text; tip.style.left = `${x}px`; tip.style.top = `${y}px`; },
    hide() { tip.hidden = true; },
  };
}

function frame(width, height, pad, maxValue, fmt) {
  const g = svg("g", { class: "axis" });
  for (let i = 0; i <= 2; i += 1) {
    const y = pad.top + (height - pad.top - pad.bottom) * (1 - i / 2);
    g.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: i ? "grid" : "baseline" }));
    const label = svg("text", { x: pad.left - 4, y: y + 3, "text-anchor": "end" });
    label.textContent = fmt(maxValue * i / 2);
    g.append(label);
  }
  return g;
}

function timeAxis(g, x, start, end, height, pad) {
  const span = end - start;
  for (let i = 0; i <= 4; i += 1) {
    const t = start + span * i / 4;
    const label = svg("text", { x: x(t), y: height - 4, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" });
    label.textContent = timeLabel(t, span);
    g.append(label);
  }
}

// Stacked bars per bucket, coloured by severity; `onPick(startMs, endMs)` zooms into a bucket.
export function drawHistogram(container, data, { onPick } = {}) {
  if (!data.buckets.length || !data.total) { setState(container, "empty", "No records in this range."); return; }
  container.dataset.state = "ready";
  const width = Math.max(container.clientWidth, 300);
  const height = 96;
  const pad = { top: 6, right: 4, bottom: 16, left: 40 };
  const start = Date.parse(data.buckets[0].start);
  const end = Date.parse(data.buckets[data.buckets.length - 1].start) + data.interval_ms;
  const x = (t) => pad.left + (t - start) / (end - start) * (width - pad.left - pad.right);
  const max = niceMax(Math.max(...data.buckets.map((b) => b.count)));
  const y = (v) => (height - pad.bottom - pad.top) * v / max;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `Records over time: ${fmtCount(data.total)} in ${data.buckets.length} buckets` });
  const axis = frame(width, height, pad, max, (v) => fmtCount(Math.round(v)));
  timeAxis(axis, x, start, end, height, pad);
  root.append(axis);
  const tip = tooltip(container);
  for (const bucket of data.buckets) {
    const t0 = Date.parse(bucket.start);
    const bx = x(t0);
    const bw = Math.max(x(t0 + data.interval_ms) - bx - 1, 1);
    const g = svg("g", { class: "bucket" });
    let base = height - pad.bottom;
    for (const sev of SEVERITY_ORDER) {
      const n = bucket.severities[sev] || 0;
      if (!n) continue;
      const h = y(n);
      g.append(svg("rect", { x: bx, y: base - h, width: bw, height: h, class: `sev-${sev}` }));
      base -= h;
    }
    g.append(svg("rect", { x: bx, y: pad.top, width: bw, height: height - pad.top - pad.bottom, class: "hit" }));
    const parts = SEVERITY_ORDER.filter((s) => bucket.severities[s]).map((s) => `${s} ${fmtCount(bucket.severities[s])}`);
    const text = `${localText(bucket.start, { ms: false })} · ${fmtCount(bucket.count)} records${parts.length ? " (" + parts.join(", ") + ")" : ""}`;
    g.addEventListener("mousemove", () => tip.show(bx + bw / 2, pad.top, text));
    g.addEventListener("mouseleave", () => tip.hide());
    if (onPick && bucket.count) {
      g.style.cursor = "zoom-in";
      g.addEventListener("click", () => onPick(t0, t0 + data.interval_ms));
    }
    g.append(svg("title", {}, document.createTextNode(`${text}\n${utcText(bucket.start)}`)));
    root.append(g);
  }
  container.replaceChildren(root, container.querySelector(".tip"));
}

// Lines over time. series: [{name, color, points: [[ms, value], ...]}].
export function drawLines(container, series, { fmt = (v) => fmtCount(Math.round(v)), height = 150 } = {}) {
  const all = series.flatMap((s) => s.points);
  if (!all.length) { setState(container, "empty", "No data in this period."); return; }
  container.dataset.state = "ready";
  const width = Math.max(container.clientWidth, 280);
  const pad = { top: 8, right: 6, bottom: 16, left: 48 };
  const start = Math.min(...all.map((p) => p[0]));
  const end = Math.max(...all.map((p) => p[0]), start + 1);
  const max = niceMax(Math.max(...all.map((p) => p[1]), 0));
  const x = (t) => pad.left + (t - start) / (end - start) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (height - pad.top - pad.bottom) * v / max;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
  const axis = frame(width, height, pad, max, fmt);
  timeAxis(axis, x, start, end, height, pad);
  root.append(axis);
  for (const s of series) {
    if (!s.points.length) continue;
    const d = s.points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    root.append(svg("path", { d, class: "series", stroke: s.color }));
    if (s.points.length === 1) root.append(svg("circle", { cx: x(s.points[0][0]), cy: y(s.points[0][1]), r: 3, fill: s.color, class: "dot" }));
  }
  const tip = tooltip(container);
  const hover = svg("line", { class: "hover-line", y1: pad.top, y2: height - pad.bottom, visibility: "hidden" });
  root.append(hover);
  const times = [...new Set(all.map((p) => p[0]))].sort((a, b) => a - b);
  root.addEventListener("mousemove", (event) => {
    const box = root.getBoundingClientRect();
    const px = (event.clientX - box.left) * width / box.width;
    const t = start + (px - pad.left) / (width - pad.left - pad.right) * (end - start);
    const near = times.reduce((a, b) => Math.abs(b - t) < Math.abs(a - t) ? b : a, times[0]);
    hover.setAttribute("x1", x(near)); hover.setAttribute("x2", x(near)); hover.setAttribute("visibility", "visible");
    const parts = series.map((s) => { const p = s.points.find((q) => q[0] === near); return p ? `${s.name} ${fmt(p[1])}` : null; }).filter(Boolean);
    tip.show(x(near) * box.width / width, pad.top, `${localText(new Date(near).toISOString(), { ms: false })} · ${parts.join(" · ")}`);
  });
  root.addEventListener("mouseleave", () => { tip.hide(); hover.setAttribute("visibility", "hidden"); });
  container.replaceChildren(root, container.querySelector(".tip"));
  if (series.length > 1) {
    container.append(el("div", { class: "legend" }, series.map((s) => {
      const item = el("span", {}, s.name);
      item.style.setProperty("--c", s.color);
      return item;
    })));
  }
}
