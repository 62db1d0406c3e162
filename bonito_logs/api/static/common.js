// Shared helpers of every page: API calls with the session (and CSRF header), local times,
// formatting, copy buttons, toasts, keyboard shortcuts. No dependencies, no build step.

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `request failed (${status})`);
    this.status = status;
    this.code = err.code || "error";
    this.problems = err.problems || [];
  }
}

// Calls our own /api/* with the session cookie; writes carry the CSRF header.
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (exc) {
    throw new ApiError(0, { error: { message: "the server cannot be reached" } });
  }
  if (response.status === 401) {  // revoked key or expired session: sign in again
    location.assign(`/logs/login?next=${encodeURIComponent(location.pathname + location.search)}` +
                    "&reason=" + encodeURIComponent("Your session ended; sign in again."));
    throw new ApiError(401, { error: { message: "signed out" } });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// ---- building DOM -------------------------------------------------------------------
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

// ---- formatting ---------------------------------------------------------------------
const pad = (n, w = 2) => String(n).padStart(w, "0");

export function utcText(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso || "";
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)} UTC`;
}

export function localText(iso, { ms = true, date = true } = {}) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso || "";
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` + (ms ? `.${pad(d.getMilliseconds(), 3)}` : "");
  return date ? `${day} ${time}` : time;
}

export function zoneName() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "local"; } catch { return "local"; }
}

export function timeEl(iso, options) {
  return el("time", { datetime: iso, title: utcText(iso), text: localText(iso, options) });
}

// Server-rendered <time> elements show UTC; the browser shows its own zone (UTC on hover).
export function localiseTimes(root = document) {
  for (const node of root.querySelectorAll("time[datetime]:not([data-local])")) {
    node.textContent = localText(node.getAttribute("datetime"));
    node.title = utcText(node.getAttribute("datetime"));
    node.dataset.local = "1";
  }
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms === 0) return "0 ms";
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 60000).toFixed(1)} min`;
}

export function fmtCost(cost) {
  if (cost === null || cost === undefined) return "";
  if (cost === 0) return "$0";
  if (Math.abs(cost) < 0.01) return "$" + cost.toFixed(5).replace(/0+$/, "");
  if (Math.abs(cost) >= 1) return "$" + cost.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return "$" + cost.toFixed(4);
}

export function fmtCount(n) {
  return n === null || n === undefined ? "" : Number(n).toLocaleString("en-US");
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtAgo(iso) {
  if (!iso) return "never";
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (s < 60) return `${Math.max(0, Math.round(s))} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

// ---- feedback -----------------------------------------------------------------------
export function toast(message, kind = "info", ms = 4000) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const node = el("div", { class: `toast ${kind}`, text: message });
  box.append(node);
  setTimeout(() => node.remove(), ms);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = el("textarea", {}, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  toast("Copied");
}

export function copyButton(text, label = "Copy") {
  return el("button", { type: "button", class: "copy", "data-copy": text, title: `Copy ${label === "Copy" ? "" : label}`.trim() }, label);
}

export function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (button) { event.preventDefault(); event.stopPropagation(); copyText(button.dataset.copy); }
});

// "/" focuses the search box (unless typing somewhere already).
document.addEventListener("keydown", (event) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || "");
  if (event.key === "/" && !typing) {
    const search = document.getElementById("q");
    if (search) { event.preventDefault(); search.focus(); search.select(); }
  }
});

localiseTimes();
