// The record detail panel (explorer and trace pages): GET /api/logs/{id}, every field.
import { api, copyButton, el, fmtCost, fmtDuration, localText, utcText, zoneName } from "./common.js";

const panel = () => document.getElementById("detail");
let openRow = null;

function filterLink(param, value, label) {
  const url = `/logs?${new URLSearchParams({ [param]: value, range: "all" })}`;
  return el("a", { href: url, class: "button", title: `Show every record with this ${label}` }, `Filter by ${label}`);
}

function row(label, ...value) {
  return [el("dt", {}, label), el("dd", {}, ...value)];
}

function render(record) {
  const node = panel();
  const meta = record.metadata === null || record.metadata === undefined ? null : JSON.stringify(record.metadata, null, 2);
  const whole = JSON.stringify(record, null, 2);
  const links = el("div", { class: "links" });
  if (record.trace_id) {
    links.append(el("a", { href: `/logs/trace/${encodeURIComponent(record.trace_id)}`, class: "button primary", "data-trace-link": "" }, "Open trace waterfall"));
    links.append(filterLink("trace_id", record.trace_id, "trace"));
  }
  if (record.user_id) links.append(filterLink("user_id", record.user_id, "user"));
  if (record.resource_id) links.append(filterLink("resource_id", record.resource_id, "resource"));
  node.replaceChildren(
    el("header", {},
      el("h2", {}, el("span", { class: `sev sev-${record.severity}` }, record.severity), " ", record.log_type, " · ", record.event_type),
      copyButton(whole, "Copy JSON"),
      el("button", { type: "button", class: "close", "aria-label": "Close (Esc)", title: "Close (Esc)", onclick: close }, "✕")),
    record.message ? el("p", { class: "message" }, record.message) : null,
    links,
    el("dl", {},
      row("Time", el("span", {}, `${localText(record.timestamp)} (${zoneName()})`)),
      row("UTC", el("code", {}, utcText(record.timestamp)), el("code", { class: "muted" }, record.timestamp)),
      row("Record id", el("code", {}, record.id), copyButton(record.id)),
      row("Log type", el("span", { class: `lt lt-${record.log_type}` }, record.log_type)),
      row("Event type", record.event_type),
      row("Severity", record.severity),
      row("Duration", record.duration_ms === null ? el("span", { class: "muted" }, "—") : `${fmtDuration(record.duration_ms)} (${record.duration_ms} ms)`),
      row("Cost", record.cost === null ? el("span", { class: "muted" }, "—") : `${fmtCost(record.cost)} (${record.cost})`),
      row("User", record.user_id ? [el("code", {}, record.user_id), copyButton(record.user_id)] : el("span", { class: "muted" }, "—")),
      row("Resource", record.resource_id ? [el("code", {}, `${record.resource_type || "?"}/${record.resource_id}`), copyButton(record.resource_id)]
        : el("span", { class: "muted" }, record.resource_type || "—")),
      row("Action", record.action || el("span", { class: "muted" }, "—")),
      row("Trace", record.trace_id ? [el("code", {}, record.trace_id), copyButton(record.trace_id)] : el("span", { class: "muted" }, "—")),
      row("Organisation", el("code", {}, record.org_id)),
    ),
    el("h2", {}, "Metadata ", meta ? copyButton(meta, "Copy") : null),
    meta ? el("pre", { class: "metadata" }, meta) : el("p", { class: "muted" }, "No metadata."),
  );
}

export async function openDetail(tr, focusPanel = true) {
  const node = panel();
  if (!node || !tr) return;
  if (openRow) openRow.removeAttribute("aria-selected");
  openRow = tr;
  tr.setAttribute("aria-selected", "true");
  node.hidden = false;
  node.replaceChildren(el("p", { class: "muted" }, "Loading the record…"));
  try {
    render(await api("GET", `/api/logs/${encodeURIComponent(tr.dataset.id)}`));
  } catch (exc) {
    node.replaceChildren(el("header", {}, el("h2", {}, "Record"),
      el("button", { type: "button", class: "close", onclick: close }, "✕")),
    el("p", { class: "problem" }, `Cannot load this record: ${exc.message}`));
  }
  if (focusPanel) node.focus();
}

export function close() {
  const node = panel();
  if (node) node.hidden = true;
  if (openRow) { openRow.removeAttribute("aria-selected"); openRow.focus(); openRow = null; }
}

// Click or Enter on a row opens it; Esc closes; ↑/↓ move between rows.
export function wireRows(tbody) {
  tbody.addEventListener("click", (event) => {
    if (event.target.closest("a, button")) return;
    const tr = event.target.closest("tr[data-id]");
    if (tr) openDetail(tr);
  });
  tbody.addEventListener("keydown", (event) => {
    const tr = event.target.closest("tr[data-id]");
    if (!tr) return;
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); openDetail(tr); }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = event.key === "ArrowDown" ? tr.nextElementSibling : tr.previousElementSibling;
      if (next) { next.focus(); if (!panel().hidden) openDetail(next, false); }
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && panel() && !panel().hidden) close();
  });
}
