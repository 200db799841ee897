// Relay's web UI (docs/ui.md): what every page uses. The session (the token in sessionStorage), requests to the
// operator's API (/api/v1, docs/api.md), formatting, and building elements (text from the API is only ever text).

export const API = "/api/v1";
export const TOKEN_KEY = "relay.token";

// Statuses: each has a symbol and a word, so that none is told by colour alone.
export const STATUS_MARKS = {
  pending: "○", running: "▶", succeeded: "✓", failed: "✕", skipped: "↷", cancelled: "⊘", not_run: "–",
};
export const STATUS_WORDS = { not_run: "not run" };

// ---------------------------------------------------------------------------------------------------------------
// Session: the token lives in sessionStorage (this tab, until it closes), never in the address.

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
  },
};

/// `/?token=…` (the address `relay up` prints) signs in, then the token is taken out of the address.
export function takeTokenFromAddress() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token === null) return;
  params.delete("token");
  const rest = params.toString();
  history.replaceState(history.state, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  if (token.trim()) session.token = token.trim();
}

export class SignedOut extends Error {}

/// What the app does when the API refuses the token (set by app.js: back to the sign-in form, with the reason).
export const hooks = { signOut: (reason) => {} };

/// What the sign-in form says after a 401, from the API's error.
export function refusal(json) {
  const message = json?.error?.message;
  return message ? `The server refused the token: ${message}.` : "The server refused the token.";
}

/// A request to the API; the answer's JSON. A 401 signs out (back to the form, with the server's reason); another
/// error throws with the server's message.
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Authorization: "Bearer " + session.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (response.status === 401) {
    hooks.signOut(refusal(json));
    throw new SignedOut();
  }
  if (!response.ok) {
    throw new Error(json?.error?.message ?? `${method} ${path}: HTTP ${response.status}`);
  }
  return json;
}

export function sleep(milliseconds, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, milliseconds);
    signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/// The mark in the bar: live, reconnecting or offline; `resumedFrom` the event a reconnection went on after.
export function setLive(state, detail, resumedFrom) {
  const live = document.getElementById("live");
  if (!live) return;
  live.dataset.state = state;
  if (resumedFrom !== undefined) live.dataset.resumedFrom = resumedFrom;
  live.textContent = { live: "● live", reconnecting: "reconnecting…", off: "offline" }[state] ?? state;
  live.title = detail ?? "";
}

/// The problem bar under the header: a message, or none.
export function showProblem(message) {
  const problem = document.getElementById("problem");
  problem.textContent = message ?? "";
  problem.hidden = !message;
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting.

export function parseTime(text) { return text ? Date.parse(text) : null; }

export function formatDuration(milliseconds) {
  if (milliseconds === null || milliseconds === undefined || Number.isNaN(milliseconds)) return "";
  const ms = Math.max(0, milliseconds);
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.floor(seconds % 60)} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export function formatSince(time, now = Date.now()) {
  if (time === null) return "";
  const seconds = Math.round((now - time) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/// The duration of something with these start and end times: to now while it goes on.
export function durationText(started, finished, now = Date.now()) {
  const start = parseTime(started);
  if (start === null) return "";
  const end = parseTime(finished);
  return end === null ? formatDuration(now - start) + " so far" : formatDuration(end - start);
}

export function statusBadge(status) {
  const badge = element("span", { class: `status status-${status}`, "data-status": status });
  badge.append(element("span", { class: "mark", "aria-hidden": "true" }, STATUS_MARKS[status] ?? "?"), " ",
    STATUS_WORDS[status] ?? status);
  return badge;
}

/// An element with attributes and children (text is always text: nothing from the API becomes markup).
export function element(name, attributes = {}, ...children) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export const SVG = "http://www.w3.org/2000/svg";
export function svg(name, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

export function fields(root) {
  const found = {};
  for (const node of root.querySelectorAll("[data-field]")) found[node.dataset.field] = node;
  return found;
}

export function fromTemplate(id) { return document.getElementById(id).content.firstElementChild.cloneNode(true); }

/// JSON as readable text; values over 2,000 characters are folded (a <details> to open).
export function jsonBlock(value) {
  const text = JSON.stringify(value, null, 2) ?? "null";
  const pre = element("pre", { class: "json" }, text);
  if (text.length <= 2000) return pre;
  return element("details", { class: "folded" },
    element("summary", {}, `${text.length.toLocaleString()} characters`), pre);
}
