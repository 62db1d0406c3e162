// /logs/exports: GET /api/logs/export every second while a job is queued or running (every 10 s
// otherwise); download, cancel and delete through the same API.
import { api, el, fmtBytes, fmtCount, timeEl, toast } from "./common.js";

const FINAL = new Set(["completed", "failed", "cancelled", "expired"]);
const rows = document.getElementById("job-rows");
const stateBox = document.getElementById("jobs-state");
const pollState = document.getElementById("poll-state");
const highlight = new URLSearchParams(location.search).get("job");
let timer = null;

function filtersText(request) {
  const f = (request && request.filters) || {};
  const parts = [];
  if (f.log_types && f.log_types.length) parts.push(f.log_types.join(", "));
  if (f.severities && f.severities.length) parts.push(f.severities.join(", "));
  if (f.event_types && f.event_types.length) parts.push(`event ${f.event_types.join(", ")}`);
  if (f.search) parts.push(`“${f.search}”`);
  for (const key of ["trace_id", "user_id", "resource_id"]) if (f[key]) parts.push(`${key.replace("_id", "")} ${f[key]}`);
  if (f.start_date) parts.push(`from ${new Date(f.start_date).toLocaleString()}`);
  if (f.end_date) parts.push(`to ${new Date(f.end_date).toLocaleString()}`);
  return parts.length ? parts.join(" · ") : "all records";
}

function progressCell(job) {
  const expected = job.rows_expected;
  const label = expected === null || expected === undefined
    ? `${fmtCount(job.rows_written)} rows`
    : `${fmtCount(job.rows_written)} / ${fmtCount(expected)} rows`;
  return el("td", {},
    el("progress", { max: 100, value: job.percent, "aria-label": `${job.percent}%` }),
    " ", el("span", { class: "small", "data-percent": job.percent }, `${job.percent}%`),
    el("div", { class: "muted small" }, label));
}

async function act(method, job, verb) {
  try {
    await api(method, `/api/logs/export/${job.id}`);
    toast(`Export ${verb}`);
  } catch (exc) {
    toast(`Could not ${verb === "deleted" ? "delete" : "cancel"} the export: ${exc.message}`, "error");
  }
  refresh();
}

function actions(job) {
  const box = el("div", { class: "row-actions" });
  if (job.status === "completed") {
    box.append(el("a", { class: "button primary", href: `/api/logs/export/${job.id}/download`, download: job.file_name || "",
      "data-download": job.id }, "Download"));
  }
  if (!FINAL.has(job.status)) {
    box.append(el("button", { type: "button", "data-cancel": job.id, disabled: job.cancel_requested,
      onclick: () => act("DELETE", job, "cancelled") }, job.cancel_requested ? "Cancelling…" : "Cancel"));
  } else {
    box.append(el("button", { type: "button", class: "danger", "data-delete": job.id, onclick: () => {
      if (confirm("Delete this export and its file?")) act("DELETE", job, "deleted");
    } }, "Delete"));
  }
  return box;
}

function rowFor(job) {
  return el("tr", { "data-job": job.id, "data-status": job.status, "aria-current": job.id === highlight ? "true" : null,
    class: job.id === highlight ? "highlight" : null },
    el("td", { class: "hide-sm" }, timeEl(job.created_at, { ms: false })),
    el("td", {}, el("b", {}, job.export_format.toUpperCase())),
    el("td", { class: "hide-sm small" }, filtersText(job.request)),
    el("td", {}, el("span", { class: `status status-${job.status}` }, job.status),
      job.error ? el("div", { class: "err-text" }, job.error) : null),
    progressCell(job),
    el("td", { class: "c-num hide-sm" }, job.bytes ? fmtBytes(job.bytes) : ""),
    el("td", { class: "hide-sm" }, job.finished_at ? timeEl(job.finished_at, { ms: false }) : ""),
    el("td", {}, actions(job)));
}

async function refresh() {
  clearTimeout(timer);
  let active = false;
  try {
    const data = await api("GET", "/api/logs/export");
    rows.replaceChildren(...data.items.map(rowFor));
    active = data.items.some((job) => !FINAL.has(job.status));
    stateBox.hidden = data.items.length > 0;
    stateBox.dataset.state = data.items.length ? "ready" : "empty";
    if (!data.items.length) {
      stateBox.replaceChildren(el("p", {}, el("b", {}, "No exports yet.")),
        el("p", { class: "muted" }, "Start one from the explorer: filter the records, then Export CSV or Export JSON."));
    }
    pollState.textContent = active ? "Updating every second…" : `Updated ${new Date().toLocaleTimeString()}`;
  } catch (exc) {
    stateBox.hidden = false;
    stateBox.dataset.state = "error";
    stateBox.replaceChildren(el("p", { class: "problem" }, `Cannot load the exports: ${exc.message}`));
    pollState.textContent = "Retrying…";
  }
  timer = setTimeout(refresh, active ? 1000 : 10000);
}

document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
refresh();
