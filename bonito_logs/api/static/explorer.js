// /logs: quick ranges, custom dates in local time, the volume chart, the detail panel,
// "load more" with the cursor, exports. The page's query body comes from the server
// (#explorer-state), so every call here runs exactly the filters the table shows.
import { api, el, fmtCost, fmtCount, fmtDuration, localiseTimes, readJson, toast, utcText, localText } from "./common.js";
import { drawHistogram, onResize, setState } from "./chart.js";
import { wireRows } from "./detail.js";

const state = readJson("explorer-state");
const form = document.getElementById("filters");
const tbody = document.getElementById("rows");

// ---- filters ------------------------------------------------------------------------
function toLocalInput(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

for (const [local, hidden] of [["start-local", "start"], ["end-local", "end"]]) {
  const input = document.getElementById(local);
  const target = document.getElementById(hidden);
  input.value = toLocalInput(input.dataset.utc);
  input.addEventListener("change", () => {
    target.value = input.value ? new Date(input.value).toISOString() : "";
  });
}

for (const radio of form.querySelectorAll('input[name="range"]')) {
  radio.addEventListener("change", () => {
    const custom = radio.value === "custom";
    document.getElementById("custom-range").hidden = !custom;
    if (custom) {
      const start = document.getElementById("start-local");
      if (!start.value) {  // start from the last 24 h, editable
        const now = new Date();
        start.value = toLocalInput(new Date(now - 86400000).toISOString());
        document.getElementById("start").value = new Date(start.value).toISOString();
      }
      start.focus();
    } else {
      form.requestSubmit();
    }
  });
}
for (const box of form.querySelectorAll('.chips input[type="checkbox"], select[name="per"]')) {
  box.addEventListener("change", () => form.requestSubmit());
}
// Empty fields stay out of the URL, so shared links are short.
form.addEventListener("submit", () => {
  for (const input of form.querySelectorAll("input[name], select[name]")) {
    if ((input.type === "text" || input.type === "search" || input.type === "hidden") && !input.value) input.disabled = true;
    if (input.name === "sort" && input.value === "timestamp") input.disabled = true;
    if (input.name === "order" && input.value === "desc") input.disabled = true;
  }
});

// ---- histogram ----------------------------------------------------------------------
const chart = document.getElementById("histogram");

function zoom(startMs, endMs) {
  const params = new URLSearchParams(location.search);
  params.set("range", "custom");
  params.set("start", new Date(startMs).toISOString());
  params.set("end", new Date(endMs - 1).toISOString());
  params.delete("page");
  location.assign(`/logs?${params}`);
}

async function loadHistogram() {
  if (!state) return;
  try {
    const data = await api("POST", "/api/logs/histogram", { filters: state.body.filters, buckets: 80 });
    drawHistogram(chart, data, { onPick: zoom });
    onResize(() => drawHistogram(chart, data, { onPick: zoom }));
  } catch (exc) {
    setState(chart, "error", `The volume chart is unavailable: ${exc.message}`);
  }
}

// ---- rows ---------------------------------------------------------------------------
function preview(metadata) {
  if (!metadata) return "";
  const text = Object.entries(metadata).map(([k, v]) => `${k}=${typeof v === "object" && v !== null ? "…" : typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
  return text.length > 140 ? text.slice(0, 139) + "…" : text;
}

export function rowFor(item) {
  return el("tr", { tabindex: "0", "data-id": item.id, class: "row appended" },
    el("td", { class: "c-time" }, el("time", { datetime: item.timestamp, title: utcText(item.timestamp), "data-local": "1" }, localText(item.timestamp))),
    el("td", { class: "c-sev" }, el("span", { class: `sev sev-${item.severity}` }, item.severity)),
    el("td", { class: "c-type" }, el("span", { class: `lt lt-${item.log_type}` }, item.log_type)),
    el("td", { class: "c-event" }, item.event_type),
    el("td", { class: "c-msg" }, item.message ? item.message : el("span", { class: "muted" }, preview(item.metadata))),
    el("td", { class: "c-num" }, fmtDuration(item.duration_ms)),
    el("td", { class: "c-num" }, fmtCost(item.cost)),
    el("td", { class: "c-user" }, item.user_id || ""));
}

const more = document.getElementById("load-more");
let cursor = state ? state.next_cursor : null;
let shown = state ? state.shown : 0;
if (more) {
  more.addEventListener("click", async () => {
    if (!cursor) return;
    more.disabled = true;
    more.textContent = "Loading…";
    try {
      const body = { ...state.body, offset: 0, cursor };
      const page = await api("POST", "/api/logs/query", body);
      for (const item of page.items) tbody.append(rowFor(item));
      shown += page.items.length;
      const to = document.getElementById("shown-to");
      if (to) to.textContent = fmtCount(shown);
      cursor = page.next_cursor;
    } catch (exc) {
      toast(`Could not load more records: ${exc.message}`, "error");
    } finally {
      more.disabled = false;
      more.textContent = "Load more";
      if (!cursor) { more.hidden = true; toast("That was the last record."); }
    }
  });
}

// ---- exports ------------------------------------------------------------------------
for (const button of document.querySelectorAll("button[data-export]")) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const job = await api("POST", "/api/logs/export", {
        filters: state.body.filters, export_format: button.dataset.export,
        sort_by: state.body.sort_by, sort_order: state.body.sort_order,
        include_metadata: true, email_when_complete: false,
      });
      toast(`Export started (${job.export_format.toUpperCase()})`);
      location.assign(`/logs/exports?job=${encodeURIComponent(job.id)}`);
    } catch (exc) {
      toast(`The export could not start: ${exc.message}`, "error", 7000);
      button.disabled = false;
    }
  });
}

wireRows(tbody);
localiseTimes();
loadHistogram();
