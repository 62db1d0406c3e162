// /logs/integrations: list with live health (GET every 5 s), add/edit with inline validation,
// test against the destination, enable/disable, dead letters and replay, delete. Everything
// through /api/logs/integrations with the session cookie and the CSRF header.
import { api, el, fmtAgo, fmtCount, timeEl, toast } from "./common.js";
import { TYPES, missing, readFields, renderFields, showProblems } from "./integration_forms.js";

const LOG_TYPES = ["gateway", "agent", "auth", "admin", "kb", "deployment", "billing"];
const SEVERITIES = ["debug", "info", "warn", "error", "critical"];
const TYPE_LABELS = { datadog: "Datadog", splunk: "Splunk HEC", cloudwatch: "CloudWatch Logs", webhook: "Webhook" };
const table = document.getElementById("integrations");
const rows = document.getElementById("integration-rows");
const stateBox = document.getElementById("integrations-state");
const canEdit = table.dataset.canEdit === "true";
const results = new Map();  // integration id -> last test answer, shown under its row
let items = [];
let timer = null;

// ---- list ---------------------------------------------------------------------------
function healthBadge(state) {
  const labels = { ok: "healthy", failing: "failing", circuit_open: "circuit open", pending: "pending", disabled: "disabled" };
  const cls = { ok: "healthy", failing: "unhealthy", circuit_open: "open", pending: "queued", disabled: "disabled" }[state.health] || "unknown";
  return el("span", { class: `status status-${cls}`, "data-health": state.health }, labels[state.health] || state.health);
}

function actions(item) {
  if (!canEdit) return el("span");
  const enabled = item.enabled;
  return el("div", { class: "row-actions" },
    el("button", { type: "button", "data-action": "test", onclick: () => runTest(item) }, "Test"),
    el("button", { type: "button", "data-action": "edit", onclick: () => openForm(item) }, "Edit"),
    el("button", { type: "button", "data-action": "dlq", onclick: () => openDlq(item) }, "DLQ"),
    el("button", { type: "button", "data-action": enabled ? "disable" : "enable", onclick: () => setEnabled(item, !enabled) }, enabled ? "Disable" : "Enable"),
    el("button", { type: "button", class: "danger", "data-action": "delete", onclick: () => remove(item) }, "Delete"));
}

function rowsFor(item) {
  const s = item.state;
  const tr = el("tr", { "data-integration": item.id },
    el("td", {}, el("b", {}, item.name)),
    el("td", {}, TYPE_LABELS[item.integration_type] || item.integration_type),
    el("td", {}, healthBadge(s)),
    el("td", { class: "hide-sm" }, el("span", { class: `status status-${s.circuit?.state || "unknown"}` }, (s.circuit?.state || "unknown").replace("_", " "))),
    el("td", { class: "hide-sm" }, s.last_success_at ? [fmtAgo(s.last_success_at), " ", el("span", { class: "muted small" }, timeEl(s.last_success_at, { ms: false }))] : el("span", { class: "muted" }, "never")),
    el("td", {}, s.last_error ? el("div", { class: "err-text", title: s.last_error.at || "" }, `${s.last_error.reason || "error"} (${fmtAgo(s.last_error.at)})`) : el("span", { class: "muted" }, "—")),
    el("td", { class: "c-num" }, fmtCount(s.records_forwarded)),
    el("td", { class: "c-num", "data-dlq": s.records_in_dlq ?? "" }, s.records_in_dlq === null || s.records_in_dlq === undefined ? "—" : fmtCount(s.records_in_dlq)),
    el("td", {}, actions(item)));
  const out = [tr];
  const result = results.get(item.id);
  if (result) {
    out.push(el("tr", { class: "test-row" }, el("td", { colspan: 9 },
      el("div", { class: `test-result ${result.ok === null ? "" : result.ok ? "ok" : "fail"}`, role: "status",
        "data-test-result": result.ok === null ? "pending" : result.ok ? "ok" : "fail" },
        el("b", {}, result.ok === null ? "Testing: " : result.ok ? "Test passed: " : "Test failed: "), result.message,
        result.status ? el("span", { class: "muted" }, ` (HTTP ${result.status})`) : null))));
  }
  return out;
}

function render() {
  rows.replaceChildren(...items.flatMap(rowsFor));
  stateBox.hidden = items.length > 0;
  if (!items.length) {
    stateBox.dataset.state = "empty";
    stateBox.replaceChildren(el("p", {}, el("b", {}, "No integrations yet.")),
      el("p", { class: "muted" }, canEdit ? "Add one to forward your records to Datadog, Splunk, CloudWatch Logs or a webhook." : "An admin can add one."));
  }
}

async function refresh() {
  clearTimeout(timer);
  try {
    items = (await api("GET", "/api/logs/integrations")).items;
    render();
    document.getElementById("poll-state").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (exc) {
    stateBox.hidden = false;
    stateBox.dataset.state = "error";
    stateBox.replaceChildren(el("p", { class: "problem" }, `Cannot load the integrations: ${exc.message}`));
  }
  timer = setTimeout(refresh, 5000);
}

// ---- actions ------------------------------------------------------------------------
async function runTest(item) {
  results.set(item.id, { ok: null, message: "asking the destination…" });
  render();
  try {
    results.set(item.id, await api("POST", `/api/logs/integrations/${item.id}/test`));
  } catch (exc) {
    const detail = exc.problems.map((p) => `${p.field}: ${p.rule}`).join("; ");
    results.set(item.id, { ok: false, message: detail || exc.message });
  }
  render();
}

async function setEnabled(item, enabled) {
  try {
    await api("PATCH", `/api/logs/integrations/${item.id}`, { enabled });
    toast(`${item.name} ${enabled ? "enabled" : "disabled"}`);
  } catch (exc) {
    toast(`Could not ${enabled ? "enable" : "disable"} ${item.name}: ${exc.message}`, "error", 7000);
  }
  refresh();
}

async function remove(item) {
  if (!confirm(`Delete the integration “${item.name}”? Forwarding stops within seconds.`)) return;
  try {
    await api("DELETE", `/api/logs/integrations/${item.id}`);
    results.delete(item.id);
    toast(`${item.name} deleted`);
  } catch (exc) {
    toast(`Could not delete ${item.name}: ${exc.message}`, "error", 7000);
  }
  refresh();
}

// ---- add / edit ---------------------------------------------------------------------
const dialog = document.getElementById("integration-dialog");
const form = document.getElementById("integration-form");
let editing = null;

function chips(box, name, values, chosen) {
  box.replaceChildren(...values.map((v) => el("label", { class: `chip ${name === "severities" ? "sev" : "lt"}-${v}` },
    el("input", { type: "checkbox", name: `filters.${name}`, value: v, checked: chosen.includes(v) }), el("span", {}, v))));
}

function openForm(item = null) {
  editing = item;
  form.reset();
  document.getElementById("integration-title").textContent = item ? `Edit ${item.name}` : "Add integration";
  const type = form.elements.integration_type;
  type.value = item ? item.integration_type : "splunk";
  type.disabled = Boolean(item);
  form.elements.name.value = item ? item.name : "";
  form.elements.enabled.checked = item ? item.enabled : true;
  renderFields(document.getElementById("type-fields"), type.value, item);
  chips(document.getElementById("f-log-types"), "log_types", LOG_TYPES, item?.filters?.log_types || []);
  chips(document.getElementById("f-severities"), "severities", SEVERITIES, item?.filters?.severities || []);
  showProblems(form, []);
  document.getElementById("form-problem").hidden = true;
  dialog.showModal();
  form.elements.name.focus();
}

function filters() {
  const pick = (name) => [...form.querySelectorAll(`input[name="filters.${name}"]:checked`)].map((i) => i.value);
  const out = { log_types: pick("log_types"), severities: pick("severities") };
  return out.log_types.length || out.severities.length ? out : null;
}

async function save(event) {
  event.preventDefault();
  const type = form.elements.integration_type.value;
  const problemBox = document.getElementById("form-problem");
  problemBox.hidden = true;
  const local = missing(form, type, Boolean(editing));
  if (!form.elements.name.value.trim()) local.unshift({ field: "name", rule: "is required" });
  showProblems(form, local);
  if (local.length) return;
  const { config, credentials } = readFields(form, type);
  const body = { name: form.elements.name.value.trim(), config, filters: filters(), enabled: form.elements.enabled.checked };
  if (!editing) { body.integration_type = type; body.credentials = credentials; }
  else if (Object.keys(credentials).length) body.credentials = credentials;
  const button = document.getElementById("save-integration");
  button.disabled = true;
  try {
    const saved = editing
      ? await api("PATCH", `/api/logs/integrations/${editing.id}`, body)
      : await api("POST", "/api/logs/integrations", body);
    results.delete(saved.id);
    dialog.close();
    toast(`${saved.name} saved`);
    refresh();
  } catch (exc) {
    const loose = showProblems(form, exc.problems);
    if (loose.length || !exc.problems.length) {
      problemBox.hidden = false;
      problemBox.textContent = loose.length ? loose.join("; ") : exc.message;
    }
  } finally {
    button.disabled = false;
  }
}

// ---- dead letters -------------------------------------------------------------------
const dlqDialog = document.getElementById("dlq-dialog");
let dlqItem = null;

async function openDlq(item) {
  dlqItem = item;
  const body = document.getElementById("dlq-body");
  document.getElementById("dlq-title").textContent = `Dead letters of ${item.name}`;
  body.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  dlqDialog.showModal();
  try {
    const page = await api("GET", `/api/logs/integrations/${item.id}/dlq?limit=100`);
    document.getElementById("dlq-replay").disabled = page.pending === 0;
    const letters = page.items.map((d) => el("tr", {},
      el("td", {}, d.failed_at ? timeEl(d.failed_at, { ms: false }) : ""),
      el("td", {}, el("code", {}, d.record_id || "?")),
      el("td", { class: "err-text" }, d.reason || "")));
    const list = letters.length
      ? el("div", { class: "table-wrap" }, el("table", { id: "dlq-table" },
        el("thead", {}, el("tr", {}, el("th", {}, "Failed"), el("th", {}, "Record"), el("th", {}, "Reason"))),
        el("tbody", {}, letters)))
      : el("p", { class: "muted", "data-dlq-empty": "" }, "No dead letters: the destination has accepted everything.");
    body.replaceChildren(list, el("p", { class: "muted small" }, `${fmtCount(page.pending)} waiting for a replay.`));
  } catch (exc) {
    body.replaceChildren(el("p", { class: "problem" }, `Cannot load the dead letters: ${exc.message}`));
  }
}

async function replay() {
  try {
    const answer = await api("POST", `/api/logs/integrations/${dlqItem.id}/dlq/replay`);
    toast(`${fmtCount(answer.replayed)} records queued again`);
    dlqDialog.close();
    refresh();
  } catch (exc) {
    toast(`Replay failed: ${exc.message}`, "error", 7000);
  }
}

if (canEdit) {
  document.getElementById("add-integration").addEventListener("click", () => openForm());
  form.addEventListener("submit", save);
  document.getElementById("cancel-integration").addEventListener("click", () => dialog.close());
  form.elements.integration_type.addEventListener("change", (e) => renderFields(document.getElementById("type-fields"), e.target.value, null));
  document.getElementById("dlq-replay").addEventListener("click", replay);
}
document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
refresh();
