// The form of each destination type: which config and credential fields, and how to read them.
// Field names are the API's (`config.host`, `credentials.hec_token`), so the 422 problems it
// answers land next to the input they are about.
import { el } from "./common.js";

const text = (name, label, opts = {}) => ({ kind: "text", name, label, ...opts });
const secret = (name, label, opts = {}) => ({ kind: "secret", name, label, required: true, ...opts });
const check = (name, label, value = false) => ({ kind: "check", name, label, value });
const list = (name, label, opts = {}) => ({ kind: "list", name, label, ...opts });

export const TYPES = {
  datadog: [
    text("config.site", "Site", { required: true, value: "datadoghq.com", options: ["datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu", "ap1.datadoghq.com", "ddog-gov.com"] }),
    text("config.service", "Service", { required: true, value: "bonito-logs" }),
    text("config.source", "Source", { hint: "default: bonito-logs" }),
    list("config.tags", "Tags", { hint: "comma-separated key:value, e.g. env:prod, team:ai" }),
    text("config.hostname", "Hostname"),
    secret("credentials.api_key", "API key", { hint: "32 hexadecimal characters" }),
  ],
  splunk: [
    text("config.host", "HEC URL", { required: true, placeholder: "https://splunk.example.com:8088" }),
    text("config.index", "Index", { hint: "default: the token's index" }),
    text("config.sourcetype", "Source type", { hint: "default: _json" }),
    text("config.source", "Source", { hint: "default: bonito-logs" }),
    check("config.verify_tls", "Verify TLS certificates", true),
    check("config.use_ack", "Wait for indexer acknowledgement"),
    secret("credentials.hec_token", "HEC token", { hint: "a GUID: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" }),
  ],
  cloudwatch: [
    text("config.region", "Region", { required: true, placeholder: "us-east-1" }),
    text("config.log_group", "Log group", { required: true, placeholder: "/bonito/logs" }),
    text("config.log_stream", "Log stream", { required: true, value: "{org_id}/{log_type}", hint: "may use {org_id} and {log_type}" }),
    text("config.endpoint_url", "Endpoint URL", { hint: "only for AWS-compatible endpoints" }),
    secret("credentials.aws_access_key_id", "Access key id"),
    secret("credentials.aws_secret_access_key", "Secret access key"),
    secret("credentials.session_token", "Session token", { required: false }),
  ],
  webhook: [
    text("config.url", "URL", { required: true, placeholder: "https://hooks.example.com/bonito" }),
    list("config.headers", "Headers", { hint: "one per line: Name: value", lines: true }),
    check("config.gzip", "Gzip the body"),
    secret("credentials.secret", "Signing secret", { hint: "signs every request (HMAC-SHA256)" }),
  ],
};

const idOf = (name) => `f-${name.replace(/[^a-z0-9]+/gi, "-")}`;

function valueText(field, value) {
  if (value === undefined || value === null) return field.value ?? "";
  if (field.kind === "list" && field.lines) return Object.entries(value).map(([k, v]) => `${k}: ${v}`).join("\n");
  if (field.kind === "list") return value.join(", ");
  return String(value);
}

// Inputs for `type`; `current` (editing) fills config, and shows masked credentials as hints.
export function renderFields(box, type, current) {
  box.replaceChildren(...TYPES[type].map((field) => {
    const [section, key] = field.name.split(".");
    const id = idOf(field.name);
    const stored = current ? current[section]?.[key] : undefined;
    if (field.kind === "check") {
      return el("label", { class: "inline-check" }, el("input", { type: "checkbox", id, name: field.name,
        checked: stored === undefined ? field.value : Boolean(stored) }), ` ${field.label}`);
    }
    let input;
    if (field.kind === "list" && field.lines) input = el("textarea", { id, name: field.name, rows: 3 }, valueText(field, stored));
    else {
      input = el("input", { id, name: field.name, autocomplete: "off", spellcheck: "false",
        type: field.kind === "secret" ? "password" : "text", placeholder: field.placeholder || null,
        required: field.required && !(current && field.kind === "secret") ? true : null,
        list: field.options ? `${id}-options` : null });
      if (field.kind !== "secret") input.value = valueText(field, stored);
    }
    const hint = field.kind === "secret" && current
      ? `stored: ${stored || "****"}; leave empty to keep`
      : field.hint;
    return el("div", { class: "field" },
      el("label", { for: id }, field.label, field.required && !(current && field.kind === "secret") ? " *" : ""),
      input,
      field.options ? el("datalist", { id: `${id}-options` }, field.options.map((o) => el("option", { value: o }))) : null,
      hint ? el("span", { class: "hint" }, hint) : null,
      el("span", { class: "field-error", "data-error-for": field.name, hidden: true }));
  }));
}

// {config, credentials} from the inputs; credentials only when typed (editing keeps the rest).
export function readFields(form, type) {
  const config = {};
  const credentials = {};
  for (const field of TYPES[type]) {
    const [section, key] = field.name.split(".");
    const input = form.elements[field.name];
    if (field.kind === "check") { config[key] = input.checked; continue; }
    const raw = input.value.trim();
    if (!raw) continue;
    if (field.kind === "list" && field.lines) {
      config[key] = Object.fromEntries(raw.split("\n").filter((l) => l.includes(":")).map((l) => {
        const at = l.indexOf(":");
        return [l.slice(0, at).trim(), l.slice(at + 1).trim()];
      }));
    } else if (field.kind === "list") config[key] = raw.split(",").map((t) => t.trim()).filter(Boolean);
    else if (section === "credentials") credentials[key] = input.value;
    else config[key] = raw;
  }
  return { config, credentials };
}

// Required fields that are empty: [{field, rule}] like the API's problems.
export function missing(form, type, editing) {
  return TYPES[type].filter((f) => f.kind !== "check" && f.required && !(editing && f.kind === "secret"))
    .filter((f) => !form.elements[f.name].value.trim())
    .map((f) => ({ field: f.name, rule: "is required" }));
}

export function showProblems(form, problems) {
  for (const node of form.querySelectorAll("[data-error-for]")) { node.hidden = true; node.textContent = ""; }
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const loose = [];
  for (const problem of problems) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(problem.field)}"]`)
      || form.querySelector(`[data-error-for="${CSS.escape(problem.field.replace(/\[\d+\]$/, ""))}"]`);
    const input = form.elements[problem.field] || form.elements[problem.field.replace(/\[\d+\]$/, "")];
    if (input && input.setAttribute) input.setAttribute("aria-invalid", "true");
    if (slot) { slot.hidden = false; slot.textContent = slot.textContent ? `${slot.textContent}; ${problem.rule}` : problem.rule; }
    else loose.push(`${problem.field}: ${problem.rule}`);
  }
  const first = form.querySelector("[aria-invalid=true]");
  if (first) first.focus();
  return loose;
}
