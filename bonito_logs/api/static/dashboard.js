// /logs/dashboard: GET /api/logs/stats/summary (1 h / 24 h / 7 d against the period before)
// and GET /api/logs/stats (series) drawn as SVG. The period is in the URL (?window=).
import { api, el, fmtCost, fmtCount, fmtDuration } from "./common.js";
import { PALETTE, drawLines, onResize, setState } from "./chart.js";

const WINDOWS = ["1h", "24h", "7d"];
const LABELS = { "1h": "Last 1 h", "24h": "Last 24 h", "7d": "Last 7 d" };
const INTERVAL = { "1h": "minute", "24h": "hour", "7d": "hour" };
const SPAN_MS = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3 };
const LOG_TYPE_COLOURS = { gateway: "#3f51b5", agent: "#00897b", auth: "#ef6c00", admin: "#c2185b", kb: "#558b2f", deployment: "#0288d1", billing: "#8d6e63" };
const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(v < 0.1 ? 2 : 1)}%`);
const METRICS = [
  { key: "count", label: "Records", fmt: fmtCount, upIsGood: true },
  { key: "errors", label: "Errors", fmt: fmtCount, upIsGood: false },
  { key: "error_rate", label: "Error rate", fmt: pct, upIsGood: false },
  { key: "cost", label: "Cost", fmt: (v) => fmtCost(v) || "$0", upIsGood: null },
  { key: "p95_duration_ms", label: "p95 latency", fmt: (v) => (v === null || v === undefined ? "—" : fmtDuration(v)), upIsGood: false },
];

let summary = null;
let current = new URLSearchParams(location.search).get("window");
if (!WINDOWS.includes(current)) current = "24h";
document.querySelector(`#window input[value="${current}"]`).checked = true;

function change(value, upIsGood) {
  if (value === null || value === undefined) return el("span", { class: "delta-flat", title: "no data in the period before" }, "new");
  const arrow = value > 0.005 ? "▲" : value < -0.005 ? "▼" : "■";
  const cls = value > 0.005 ? "delta-up" : value < -0.005 ? "delta-down" : "delta-flat";
  return el("span", { class: `${cls}${upIsGood ? " good-when-up" : ""}`, title: "against the period before" },
    `${arrow} ${Math.abs(value * 100).toFixed(Math.abs(value) < 0.1 ? 1 : 0)}%`);
}

function renderSummary() {
  const box = document.getElementById("summary");
  const table = el("table", { class: "summary-table", id: "summary-table" },
    el("thead", {}, el("tr", {}, el("th", {}, ""), WINDOWS.map((w) => el("th", { class: "c-num", "aria-current": w === current ? "true" : null }, LABELS[w])))),
    el("tbody", {}, METRICS.map((m) => el("tr", { "data-metric": m.key },
      el("th", { scope: "row" }, m.label),
      WINDOWS.map((w) => {
        const win = summary.windows[w];
        return el("td", { class: `c-num${w === current ? " current" : ""}`, "data-window": w },
          el("span", { class: "figure" }, m.fmt(win[m.key])), " ",
          m.upIsGood === null ? el("span", { class: "delta-flat" }, change(win.change[m.key], false).textContent) : change(win.change[m.key], m.upIsGood));
      })))));
  box.dataset.state = "ready";
  box.replaceChildren(table);
}

function toplist(id, rows, label, value, fmt, empty) {
  const box = document.getElementById(id);
  if (!rows.length) { box.dataset.state = "empty"; box.replaceChildren(el("p", { class: "muted" }, empty)); return; }
  const max = Math.max(...rows.map(value), 1e-12);
  box.dataset.state = "ready";
  box.replaceChildren(el("table", { class: "toplist" }, el("tbody", {}, rows.map((row) => el("tr", {},
    el("td", {}, label(row)),
    el("td", { class: "barcell" }, el("meter", { min: 0, max, value: value(row) })),
    el("td", { class: "c-num" }, fmt(row)))))));
}

function renderTops() {
  const win = summary.windows[current];
  toplist("top-models", win.top_models_by_cost, (r) => r.model || "(no model)", (r) => r.cost,
    (r) => `${fmtCost(r.cost) || "$0"} · ${fmtCount(r.count)} calls`, "No model calls in this period.");
  toplist("top-events", win.top_event_types_by_errors, (r) => el("a", { href: `/logs?event_type=${encodeURIComponent(r.event_type)}&severity=error&severity=critical&range=${current}` }, r.event_type),
    (r) => r.errors, (r) => `${fmtCount(r.errors)} errors · ${pct(r.error_rate)}`, "No errors in this period. 🎉");
}

async function loadSummary() {
  try {
    summary = await api("GET", "/api/logs/stats/summary");
    renderSummary();
    renderTops();
  } catch (exc) {
    for (const id of ["summary", "top-models", "top-events"]) {
      const box = document.getElementById(id);
      box.dataset.state = "error";
      box.replaceChildren(el("p", { class: "problem" }, `The summary is unavailable: ${exc.message}`));
    }
  }
}

const points = (series, pick) => series.points.map((p) => [Date.parse(p.timestamp), pick(p)]).filter((p) => p[1] !== null && p[1] !== undefined);

async function loadCharts() {
  const end = new Date();
  const start = new Date(end - SPAN_MS[current]);
  const base = `start=${encodeURIComponent(start.toISOString())}&end=${encodeURIComponent(end.toISOString())}&interval=${INTERVAL[current]}`;
  const ids = ["chart-volume", "chart-errors", "chart-latency", "chart-cost"];
  for (const id of ids) setState(document.getElementById(id), "loading", "Loading…");
  document.querySelector("[data-period]").textContent = `per ${INTERVAL[current]}`;
  try {
    const [byType, overall] = await Promise.all([
      api("GET", `/api/logs/stats?${base}&group_by=log_type`), api("GET", `/api/logs/stats?${base}`)]);
    const totalSeries = overall.series[0] || { points: [] };
    const volume = byType.series.filter((s) => s.totals.count > 0).map((s, i) => ({
      name: s.group || "?", color: LOG_TYPE_COLOURS[s.group] || PALETTE[i % PALETTE.length], points: points(s, (p) => p.count) }));
    if (!volume.length) setState(document.getElementById("chart-volume"), "empty", "No records in this period.");
    else drawLines(document.getElementById("chart-volume"), volume);
    const none = overall.totals.count === 0;
    const draw = (id, name, color, pick, fmt) => (none
      ? setState(document.getElementById(id), "empty", "No records in this period.")
      : drawLines(document.getElementById(id), [{ name, color, points: points(totalSeries, pick) }], { fmt }));
    draw("chart-errors", "error rate", "#d32f2f", (p) => (p.count ? p.error_rate : null), pct);
    draw("chart-latency", "p95", "#1f5fbf", (p) => p.duration_ms.p95, (v) => fmtDuration(v) || "0");
    draw("chart-cost", "cost", "#8d6e63", (p) => p.cost, (v) => fmtCost(v) || "$0");
  } catch (exc) {
    for (const id of ids) setState(document.getElementById(id), "error", `Unavailable: ${exc.message}`);
  }
}

for (const radio of document.querySelectorAll('#window input')) {
  radio.addEventListener("change", () => {
    current = radio.value;
    history.replaceState(null, "", `/logs/dashboard?window=${current}`);
    if (summary) { renderSummary(); renderTops(); }
    loadCharts();
  });
}

onResize(loadCharts);
loadSummary();
loadCharts();
setInterval(loadSummary, 60000);
