// Relay's web UI (docs/ui.md): a page of runs and a page per run, on the operator's API (/api/v1, docs/api.md).
// No framework and no build step: this file is served as it is. Everything shown comes from the API with the
// token the tab is signed in with; live updates come from GET /api/v1/stream (server-sent events), read with
// fetch() because EventSource cannot send an Authorization header.

const API = "/api/v1";
const TOKEN_KEY = "relay.token";

// Statuses: each has a symbol and a word, so that none is told by colour alone.
const STATUS_MARKS = {
  pending: "○", running: "▶", succeeded: "✓", failed: "✕", skipped: "↷", cancelled: "⊘", not_run: "–",
};
const STATUS_WORDS = { not_run: "not run" };

// ---------------------------------------------------------------------------------------------------------------
// Session: the token lives in sessionStorage (this tab, until it closes), never in the address.

const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
  },
};

/// `/?token=…` (the address `relay up` prints) signs in, then the token is taken out of the address.
function takeTokenFromAddress() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (token === null) return;
  params.delete("token");
  const rest = params.toString();
  history.replaceState(history.state, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  if (token.trim()) session.token = token.trim();
}

class SignedOut extends Error {}

/// A request to the API; the answer's JSON. A 401 signs out (back to the form, with the server's reason); another
/// error throws with the server's message.
async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Authorization: "Bearer " + session.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (response.status === 401) {
    signOut(refusal(json));
    throw new SignedOut();
  }
  if (!response.ok) {
    throw new Error(json?.error?.message ?? `${method} ${path}: HTTP ${response.status}`);
  }
  return json;
}

// ---------------------------------------------------------------------------------------------------------------
// Server-sent events over fetch().

/// Parses the text/event-stream format (HTML's "server-sent events"): feed it text as it comes; it calls `onEvent`
/// with {type, data, id} for each complete event, and `onRetry` with a reconnection time the server asks for.
export class EventStreamParser {
  constructor(onEvent, onRetry = () => {}) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.buffer = "";
    this.data = [];
    this.type = "";
    this.lastEventId = null;
    this.pendingId = null;
  }

  push(text) {
    this.buffer += text;
    // Lines end with CRLF, LF or CR; a CR at the very end may be the first half of a CRLF, so it waits.
    for (;;) {
      const match = /\r\n|\n|\r(?!$)/.exec(this.buffer);
      if (!match) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === "") {
      if (this.pendingId !== null) this.lastEventId = this.pendingId;
      if (this.data.length > 0) {
        this.onEvent({ type: this.type || "message", data: this.data.join("\n"), id: this.lastEventId });
      }
      this.data = [];
      this.type = "";
      return;
    }
    if (line.startsWith(":")) return; // a comment (the server's keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data": this.data.push(value); break;
      case "event": this.type = value; break;
      case "id": if (!value.includes("\0")) this.pendingId = value; break;
      case "retry": if (/^\d+$/.test(value)) this.onRetry(Number(value)); break;
      default: break; // unknown fields are ignored
    }
  }
}

/// GET /api/v1/stream, kept open: reconnects after the stream ends or fails, with Last-Event-ID so that no change
/// is missed. `onOpen(resumed)` is called on each connection: not resumed (no event seen yet), the caller loads
/// what it shows, since only changes after that moment will come. `onEvent` gets {type, data (parsed), id}.
class LiveStream {
  constructor(query, { onOpen, onEvent }) {
    this.query = query;
    this.onOpen = onOpen;
    this.onEvent = onEvent;
    this.controller = new AbortController();
    this.lastEventId = null;
    this.retry = 1000;
    this.failures = 0;
    this.closed = false;
    this.run();
  }

  close() {
    this.closed = true;
    this.controller.abort();
    setLive("off");
  }

  async run() {
    while (!this.closed) {
      try {
        await this.connect();
        this.failures = 0;
      } catch (error) {
        if (this.closed || error instanceof SignedOut) return;
        this.failures += 1;
        setLive("reconnecting", error.message);
      }
      if (this.closed) return;
      setLive("reconnecting");
      // The server's retry (1 s), longer after failures in a row, at most 15 s.
      await sleep(Math.min(this.retry * 2 ** Math.min(this.failures, 4), 15000), this.controller.signal);
    }
  }

  async connect() {
    const headers = { Authorization: "Bearer " + session.token, Accept: "text/event-stream" };
    if (this.lastEventId !== null) headers["Last-Event-ID"] = this.lastEventId;
    const response = await fetch(API + "/stream" + this.query, { headers, signal: this.controller.signal });
    if (response.status === 401) {
      const json = await response.json().catch(() => null);
      if (!this.closed) signOut(refusal(json));
      throw new SignedOut();
    }
    if (!response.ok || !response.body) throw new Error(`the stream answered HTTP ${response.status}`);
    const resumed = this.lastEventId !== null;
    setLive("live", resumed ? `reconnected after event ${this.lastEventId}` : "", resumed ? this.lastEventId : "");
    const parser = new EventStreamParser(
      (event) => {
        this.lastEventId = event.id ?? this.lastEventId;
        this.dispatch(event);
      },
      (retry) => { this.retry = Math.max(500, retry); });
    this.onOpen(resumed);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.closed) break;
      parser.push(value);
    }
  }

  dispatch(event) {
    let data = null;
    try { data = JSON.parse(event.data); } catch { data = null; }
    if (event.type === "revoked") {
      signOut("The token was revoked while the page was open.");
      return;
    }
    this.onEvent({ type: event.type, data, id: event.id });
  }
}

function sleep(milliseconds, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, milliseconds);
    signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/// The mark in the bar: live, reconnecting or offline; `resumedFrom` the event a reconnection went on after.
function setLive(state, detail, resumedFrom) {
  const live = document.getElementById("live");
  if (!live) return;
  live.dataset.state = state;
  if (resumedFrom !== undefined) live.dataset.resumedFrom = resumedFrom;
  live.textContent = { live: "● live", reconnecting: "reconnecting…", off: "offline" }[state] ?? state;
  live.title = detail ?? "";
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting.

function parseTime(text) { return text ? Date.parse(text) : null; }

function formatDuration(milliseconds) {
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

function formatSince(time, now = Date.now()) {
  if (time === null) return "";
  const seconds = Math.round((now - time) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/// The duration of something with these start and end times: to now while it goes on.
function durationText(started, finished, now = Date.now()) {
  const start = parseTime(started);
  if (start === null) return "";
  const end = parseTime(finished);
  return end === null ? formatDuration(now - start) + " so far" : formatDuration(end - start);
}

function statusBadge(status) {
  const badge = element("span", { class: `status status-${status}`, "data-status": status });
  badge.append(element("span", { class: "mark", "aria-hidden": "true" }, STATUS_MARKS[status] ?? "?"), " ",
    STATUS_WORDS[status] ?? status);
  return badge;
}

/// An element with attributes and children (text is always text: nothing from the API becomes markup).
function element(name, attributes = {}, ...children) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(name, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

function fields(root) {
  const found = {};
  for (const node of root.querySelectorAll("[data-field]")) found[node.dataset.field] = node;
  return found;
}

function fromTemplate(id) { return document.getElementById(id).content.firstElementChild.cloneNode(true); }

/// JSON as readable text; values over 2,000 characters are folded (a <details> to open).
function jsonBlock(value) {
  const text = JSON.stringify(value, null, 2) ?? "null";
  const pre = element("pre", { class: "json" }, text);
  if (text.length <= 2000) return pre;
  return element("details", { class: "folded" },
    element("summary", {}, `${text.length.toLocaleString()} characters`), pre);
}

// ---------------------------------------------------------------------------------------------------------------
// Pages. Each has `render(main)` and `close()`; the address's hash says which: #/runs?…, #/runs/ID.

let page = null;

function route() {
  page?.close();
  page = null;
  if (!session.token) { showSignIn(); return; }
  document.getElementById("sign-out").hidden = false;
  const hash = location.hash.replace(/^#/, "") || "/runs";
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  const runMatch = /^\/runs\/([^/]+)$/.exec(path);
  let runID = null;
  try { runID = runMatch ? decodeURIComponent(runMatch[1]) : null; } catch { runID = null; }
  page = runID ? new RunPage(runID) : new RunsPage(params);
  for (const link of document.querySelectorAll("nav [data-section]")) {
    link.toggleAttribute("aria-current", link.dataset.section === "runs");
  }
  const main = document.getElementById("main");
  main.replaceChildren();
  page.render(main);
}

function showProblem(message) {
  const problem = document.getElementById("problem");
  problem.textContent = message ?? "";
  problem.hidden = !message;
}

/// What the sign-in form says after a 401, from the API's error.
function refusal(json) {
  const message = json?.error?.message;
  return message ? `The server refused the token: ${message}.` : "The server refused the token.";
}

/// Back to the sign-in form, saying why. Several requests may be refused at once: the first one's reason stays.
function signOut(reason) {
  if (!session.token) return;
  session.token = null;
  page?.close();
  page = null;
  showSignIn(reason);
}

function showSignIn(reason) {
  document.getElementById("sign-out").hidden = true;
  for (const link of document.querySelectorAll("nav [data-section]")) link.removeAttribute("aria-current");
  setLive("off");
  showProblem(null);
  const view = fromTemplate("tpl-sign-in");
  const { form, reason: reasonField } = fields(view);
  if (reason) {
    reasonField.textContent = reason;
    reasonField.hidden = false;
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = form.elements.token.value.trim();
    if (!token) return;
    session.token = token;
    try {
      await api("/workflows");
    } catch (error) {
      if (!(error instanceof SignedOut)) { reasonField.textContent = error.message; reasonField.hidden = false; }
      return;
    }
    route();
  });
  const main = document.getElementById("main");
  main.replaceChildren(view);
  form.elements.token.focus();
}

// ---------------------------------------------------------------------------------------------------------------
// The runs: a page of GET /runs, kept current by the stream.

class RunsPage {
  constructor(params) {
    this.filter = { workflow: params.get("workflow") ?? "", status: params.get("status") ?? "" };
    this.cursor = params.get("cursor") ?? "";
    // Runs per page: 50, or the address's limit (1 to 500, what the API accepts).
    const limit = Number(params.get("limit"));
    this.limit = Number.isInteger(limit) && limit >= 1 && limit <= 500 ? limit : 50;
    this.runs = new Map(); // id → run summary, in the table's order
    this.fetching = new Map(); // id → the latest change that came while the run was being read, or null
    this.loaded = false;
    this.queued = [];
  }

  render(main) {
    this.view = fromTemplate("tpl-runs");
    this.fields = fields(this.view);
    main.append(this.view);
    document.title = "Runs · Relay";
    const { filters, workflow, status } = this.fields;
    status.value = this.filter.status;
    filters.addEventListener("change", () => {
      this.filter = { workflow: workflow.value, status: status.value };
      location.hash = this.address();
    });
    this.loadWorkflows();
    this.stream = new LiveStream("", {
      onOpen: (resumed) => { if (!resumed) this.load(); },
      onEvent: (event) => this.changed(event),
    });
    this.clock = setInterval(() => this.tick(), 1000);
  }

  close() {
    this.stream?.close();
    clearInterval(this.clock);
  }

  async loadWorkflows() {
    try {
      const answer = await api("/workflows");
      const names = answer.workflows.map((workflow) => workflow.name).sort();
      if (this.filter.workflow && !names.includes(this.filter.workflow)) names.push(this.filter.workflow);
      this.fields.workflow.append(...names.map((name) => element("option", { value: name }, name)));
      this.fields.workflow.value = this.filter.workflow;
    } catch (error) {
      if (!(error instanceof SignedOut)) showProblem("The workflows could not be read: " + error.message);
    }
  }

  /// The filters and page size as query parameters (of GET /runs, and of this page's address).
  parameters() {
    const params = new URLSearchParams();
    if (this.filter.workflow) params.set("workflow", this.filter.workflow);
    if (this.filter.status) params.set("status", this.filter.status);
    if (this.limit !== 50) params.set("limit", String(this.limit));
    return params;
  }

  /// This page's address with the filters, from its first page or from `cursor`.
  address(cursor = "") {
    const params = this.parameters();
    if (cursor) params.set("cursor", cursor);
    return "#/runs" + (params.size ? "?" + params : "");
  }

  query() {
    const params = this.parameters();
    params.set("limit", String(this.limit));
    if (this.cursor) params.set("cursor", this.cursor);
    return "?" + params;
  }

  /// Reads the page; changes that come meanwhile wait, and are applied to what it returns.
  async load() {
    this.loaded = false;
    try {
      const answer = await api("/runs" + this.query());
      showProblem(null);
      this.runs = new Map(answer.runs.map((run) => [run.id, run]));
      this.nextCursor = answer.next_cursor;
      this.loaded = true;
      this.draw();
      for (const event of this.queued.splice(0)) this.changed(event);
    } catch (error) {
      if (error instanceof SignedOut) return;
      showProblem("The runs could not be read: " + error.message);
      // What is shown stays, and follows the changes.
      this.loaded = true;
      for (const event of this.queued.splice(0)) this.changed(event);
    }
  }

  matches(run) {
    return (!this.filter.workflow || run.workflow === this.filter.workflow) &&
      (!this.filter.status || run.status === this.filter.status);
  }

  /// A change from the stream: a known run's status moves; a new run (on the first page) is read and shown.
  changed(event) {
    if (event.type === "reset") { this.load(); return; }
    if (event.type !== "run" || !event.data) return;
    if (!this.loaded) { this.queued.push(event); return; }
    const change = event.data;
    const known = this.runs.get(change.run_id);
    if (known) {
      RunsPage.apply(change, known);
      this.drawRow(known);
      return;
    }
    // Changes that come while the run is being read are applied to what the read returns (it may predate them).
    if (this.fetching.has(change.run_id)) { this.fetching.set(change.run_id, change); return; }
    if (this.cursor) return; // new runs are on the first page only
    if (this.filter.workflow && change.workflow !== this.filter.workflow) return;
    this.fetching.set(change.run_id, null);
    api("/runs/" + encodeURIComponent(change.run_id))
      .then((run) => {
        const later = this.fetching.get(run.id);
        if (later) RunsPage.apply(later, run);
        if (this.runs.has(run.id) || !this.matches(run)) return;
        // Newest first, as the API pages them; a run older than this page (an old run resumed) belongs to a later
        // page, unless this is the last one.
        const shown = [...this.runs.values()];
        const oldest = shown.at(-1);
        if (this.nextCursor && oldest && parseTime(run.started) < parseTime(oldest.started)) return;
        shown.push(run);
        shown.sort((a, b) => parseTime(b.started) - parseTime(a.started));
        this.runs = new Map(shown.map((each) => [each.id, each]));
        this.draw();
      })
      .catch((error) => { if (!(error instanceof SignedOut)) showProblem(error.message); })
      .finally(() => this.fetching.delete(change.run_id));
  }

  /// A run's status change (`event: run`) applied to the run as the list shows it.
  static apply(change, run) {
    run.status = change.status;
    run.finished = change.status === "running" ? null : run.finished ?? change.at;
  }

  draw() {
    const { rows, empty, older, newest } = this.fields;
    rows.replaceChildren(...[...this.runs.values()].map((run) => this.row(run)));
    empty.hidden = this.runs.size > 0;
    newest.hidden = !this.cursor;
    newest.href = this.address();
    older.hidden = !this.nextCursor;
    if (this.nextCursor) older.href = this.address(this.nextCursor);
  }

  row(run) {
    const link = element("a", { href: "#/runs/" + encodeURIComponent(run.id) }, run.id);
    const started = element("time", { datetime: run.started, title: run.started, "data-since": run.started },
      formatSince(parseTime(run.started)));
    const duration = element("span", { "data-duration": "" }, durationText(run.started, run.finished));
    const workflow = element("a", { href: "#/runs?workflow=" + encodeURIComponent(run.workflow) }, run.workflow);
    return element("tr", { "data-run": run.id, "data-workflow": run.workflow, "data-status": run.status },
      element("td", { class: "run-id" }, link), element("td", {}, workflow), element("td", {}, statusBadge(run.status)),
      element("td", {}, started), element("td", { class: "number" }, duration));
  }

  drawRow(run) {
    const old = this.fields.rows.querySelector(`tr[data-run="${CSS.escape(run.id)}"]`);
    if (old) old.replaceWith(this.row(run));
  }

  tick() {
    const now = Date.now();
    for (const time of this.fields.rows.querySelectorAll("time[data-since]")) {
      time.textContent = formatSince(parseTime(time.dataset.since), now);
    }
    for (const row of this.fields.rows.querySelectorAll("tr[data-status=running]")) {
      const run = this.runs.get(row.dataset.run);
      const cell = row.querySelector("[data-duration]");
      if (run && cell) cell.textContent = durationText(run.started, run.finished, now);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A run: GET /runs/{id}, its graph as SVG from the layout Relay computed, the selected step's values, Cancel and
// Resume; read again whenever the stream says the run changed.

const NODE = { width: 176, height: 58, gapX: 32, gapY: 46, margin: 12 };

class RunPage {
  constructor(id) {
    this.id = id;
    this.run = null;
    this.text = "";
    this.selected = null;
    this.reloading = false;
    this.again = false;
  }

  render(main) {
    this.view = fromTemplate("tpl-run");
    this.fields = fields(this.view);
    main.append(this.view);
    document.title = `Run ${this.id} · Relay`;
    this.fields.title.textContent = "Run " + this.id;
    this.fields.cancel.addEventListener("click", () => this.control("cancel"));
    this.fields.resume.addEventListener("click", () => this.control("resume"));
    this.stream = new LiveStream("?run=" + encodeURIComponent(this.id), {
      onOpen: (resumed) => { if (!resumed) this.reload(); },
      onEvent: () => this.reload(),
    });
    this.clock = setInterval(() => this.tick(), 1000);
  }

  close() {
    this.stream?.close();
    clearInterval(this.clock);
  }

  /// Reads the run again; changes that come while a read is under way cause one more read after it.
  async reload() {
    if (this.reloading) { this.again = true; return; }
    this.reloading = true;
    try {
      do {
        this.again = false;
        const run = await api("/runs/" + encodeURIComponent(this.id));
        const text = JSON.stringify(run);
        if (text !== this.text) {
          this.text = text;
          this.run = run;
          this.draw();
        }
      } while (this.again);
      showProblem(null);
    } catch (error) {
      if (!(error instanceof SignedOut)) showProblem(`Run ${this.id} could not be read: ${error.message}`);
    } finally {
      this.reloading = false;
    }
  }

  async control(command) {
    const result = this.fields["action-result"];
    result.textContent = "";
    try {
      await api(`/runs/${encodeURIComponent(this.id)}/${command}`, { method: "POST", body: {} });
      result.textContent = command === "cancel" ? "Cancel requested." : "Resume requested.";
    } catch (error) {
      if (!(error instanceof SignedOut)) result.textContent = error.message;
    }
  }

  /// Each step's latest attempt, by step.
  latestAttempts() {
    const latest = new Map();
    for (const attempt of this.run.steps) latest.set(attempt.step, attempt);
    return latest;
  }

  /// What a node shows: the latest attempt's status, or for a step never started, pending while the run runs.
  stepStatus(step, latest) {
    const attempt = latest.get(step);
    const run = this.run.status;
    if (!attempt) return run === "running" ? "pending" : run === "cancelled" ? "cancelled" : "not_run";
    if (attempt.status === "running" && run === "cancelled") return "cancelled";
    return attempt.status;
  }

  draw() {
    const run = this.run;
    const f = this.fields;
    f.status.replaceChildren(statusBadge(run.status));
    f["workflow-link"].textContent = run.workflow;
    f["workflow-link"].href = "#/runs?workflow=" + encodeURIComponent(run.workflow);
    const facts = [
      ["Workflow", run.workflow],
      ["Started", element("time", { datetime: run.started, title: run.started, "data-since": run.started },
        formatSince(parseTime(run.started)))],
      ["Duration", element("span", { "data-duration": "" }, durationText(run.started, run.finished))],
      ["Version", run.version ? element("code", { title: run.version }, run.version.slice(0, 12)) : "unknown"],
    ];
    if (run.parent_run) {
      facts.push(["Started by", element("a", { href: "#/runs/" + encodeURIComponent(run.parent_run) },
        `run ${run.parent_run}` + (run.parent_step ? `, step ${run.parent_step}` : ""))]);
    }
    f.facts.replaceChildren(...facts.flatMap(([term, value]) => [element("dt", {}, term), element("dd", {}, value)]));
    f.cancel.hidden = run.status !== "running";
    f.resume.hidden = !((run.status === "failed" || run.status === "cancelled") && !run.parent_run);
    f.error.hidden = !run.error;
    f.error.textContent = run.error ?? "";
    f.trigger.textContent = JSON.stringify(run.trigger_event, null, 2);
    f["output-block"].hidden = run.output === null || run.output === undefined;
    f.output.textContent = JSON.stringify(run.output, null, 2);
    this.drawGraph();
    this.drawAttempts();
    this.drawChildren();
    this.drawStep();
  }

  drawGraph() {
    const run = this.run;
    const { graph, legend } = this.fields;
    const hadFocus = document.activeElement?.closest?.("[data-step]")?.dataset.step;
    if (!run.graph || !run.layout) {
      graph.replaceChildren(element("p", { class: "hint" },
        "The workflow's definition is not known to this server, so there is no graph; the attempts are below."));
      legend.replaceChildren();
      return;
    }
    const latest = this.latestAttempts();
    const { layers, width, nodes } = run.layout;
    const perLayer = new Map();
    for (const node of nodes) perLayer.set(node.layer, (perLayer.get(node.layer) ?? 0) + 1);
    const pitchX = NODE.width + NODE.gapX;
    const pitchY = NODE.height + NODE.gapY;
    const place = new Map();
    for (const node of nodes) {
      // Each layer centred on the widest.
      const offset = ((width - perLayer.get(node.layer)) * pitchX) / 2;
      place.set(node.step, { x: NODE.margin + offset + node.position * pitchX, y: NODE.margin + node.layer * pitchY });
    }
    const totalWidth = NODE.margin * 2 + width * pitchX - NODE.gapX;
    const totalHeight = NODE.margin * 2 + layers * pitchY - NODE.gapY;
    const drawing = svg("svg", {
      class: "graph-svg", viewBox: `0 0 ${totalWidth} ${totalHeight}`, width: totalWidth, height: totalHeight,
      role: "group", "aria-label": `Graph of workflow ${run.workflow}: ${nodes.length} steps`,
    });
    drawing.append(svg("defs", {}, svg("marker", {
      id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7",
      orient: "auto-start-reverse",
    }, svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }))));
    const edges = svg("g", { class: "edges" });
    for (const step of run.graph) {
      const to = place.get(step.step);
      for (const need of step.needs) {
        const from = place.get(need);
        if (!from || !to) continue;
        const x1 = from.x + NODE.width / 2, y1 = from.y + NODE.height;
        const x2 = to.x + NODE.width / 2, y2 = to.y;
        const bend = (y2 - y1) / 2;
        edges.append(svg("path", {
          class: "edge", d: `M ${x1} ${y1} C ${x1} ${y1 + bend}, ${x2} ${y2 - bend}, ${x2} ${y2 - 2}`,
          "marker-end": "url(#arrow)", "data-from": need, "data-to": step.step,
        }));
      }
    }
    drawing.append(edges);
    const used = new Set();
    for (const node of nodes) {
      const status = this.stepStatus(node.step, latest);
      used.add(status);
      drawing.append(this.graphNode(node.step, status, latest.get(node.step), place.get(node.step)));
    }
    graph.replaceChildren(drawing);
    legend.replaceChildren(...[...used].map((status) => element("li", {}, statusBadge(status))));
    if (hadFocus) graph.querySelector(`[data-step="${CSS.escape(hadFocus)}"]`)?.focus();
  }

  graphNode(step, status, attempt, { x, y }) {
    const label = step.length > 22 ? step.slice(0, 21) + "…" : step;
    let detail = `${STATUS_MARKS[status]} ${STATUS_WORDS[status] ?? status}`;
    if (attempt?.items_total !== undefined) detail += ` · ${attempt.items_done}/${attempt.items_total} items`;
    if (attempt && attempt.attempt > 1) detail += ` · try ${attempt.attempt}`;
    const group = svg("g", {
      class: `node status-${status}` + (this.selected === step ? " selected" : ""),
      "data-step": step, "data-status": status, transform: `translate(${x} ${y})`, tabindex: "0", role: "button",
      "aria-label": `Step ${step}: ${STATUS_WORDS[status] ?? status}`, "aria-pressed": String(this.selected === step),
    }, svg("title", {}, `${step}: ${STATUS_WORDS[status] ?? status}`),
    svg("rect", { width: NODE.width, height: NODE.height, rx: "8", class: "node-box" }),
    svg("text", { x: "12", y: "23", class: "node-name" }, label),
    svg("text", { x: "12", y: "44", class: "node-status" }, detail));
    if (attempt?.items_total !== undefined) {
      group.dataset.items = `${attempt.items_done}/${attempt.items_total}`;
    }
    group.addEventListener("click", () => this.select(step));
    group.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); this.select(step); }
    });
    if (!attempt?.child_run) return group;
    // A sub-workflow step: a link to the run it started, beside the node.
    const link = svg("a", {
      href: "#/runs/" + encodeURIComponent(attempt.child_run), class: "child-link", "data-child-run": attempt.child_run,
      "aria-label": `Run ${attempt.child_run} of step ${step}`,
    }, svg("text", { x: String(NODE.width - 10), y: "23", "text-anchor": "end" }, "child run ↗"));
    link.addEventListener("click", (event) => event.stopPropagation());
    group.append(link);
    return group;
  }

  drawAttempts() {
    const rows = this.run.steps.map((attempt) => {
      const select = element("button", { type: "button", class: "link-button" }, attempt.step);
      select.addEventListener("click", () => this.select(attempt.step));
      return element("tr", { "data-step": attempt.step, "data-status": attempt.status },
        element("td", {}, select), element("td", { class: "number" }, String(attempt.attempt)),
        element("td", {}, statusBadge(attempt.status)),
        element("td", {}, attempt.started ? element("time", { datetime: attempt.started, title: attempt.started },
          new Date(attempt.started).toLocaleTimeString()) : "not yet"),
        element("td", { class: "number" },
          attempt.duration_ms !== null && attempt.duration_ms !== undefined ? formatDuration(attempt.duration_ms)
            : attempt.started ? durationText(attempt.started, attempt.finished) : ""));
    });
    this.fields.attempts.replaceChildren(...rows);
  }

  drawChildren() {
    const children = this.run.children ?? [];
    this.fields["children-section"].hidden = children.length === 0;
    this.fields.children.replaceChildren(...children.map((child) => element("li", {},
      element("a", { href: "#/runs/" + encodeURIComponent(child.id) }, child.id), ` (${child.workflow}`,
      child.parent_step ? `, step ${child.parent_step}) ` : ") ", statusBadge(child.status))));
  }

  select(step) {
    this.selected = step;
    for (const node of this.fields.graph.querySelectorAll("[data-step]")) {
      node.classList.toggle("selected", node.dataset.step === step);
      node.setAttribute("aria-pressed", String(node.dataset.step === step));
    }
    this.drawStep();
  }

  /// The selected step's attempts, newest first: input, output, error (and the exception's detail), as JSON.
  drawStep() {
    const { "step-title": title, "step-detail": detail } = this.fields;
    if (!this.selected) return;
    title.textContent = "Step " + this.selected;
    const attempts = this.run.steps.filter((attempt) => attempt.step === this.selected).reverse();
    if (attempts.length === 0) {
      detail.replaceChildren(element("p", { class: "hint" }, "This step has not started."));
      return;
    }
    detail.replaceChildren(...attempts.map((attempt, index) => {
      const parts = [
        element("summary", {}, `Attempt ${attempt.attempt} `, statusBadge(attempt.status),
          attempt.duration_ms !== null && attempt.duration_ms !== undefined
            ? ` in ${formatDuration(attempt.duration_ms)}` : ""),
      ];
      if (attempt.error) parts.push(element("h3", {}, "Error"), element("pre", { class: "step-error" }, attempt.error));
      if (attempt.exception) parts.push(element("h3", {}, "Exception"), jsonBlock(attempt.exception));
      parts.push(element("h3", {}, "Input"), jsonBlock(attempt.input));
      parts.push(element("h3", {}, "Output"), jsonBlock(attempt.output));
      if (attempt.items) {
        parts.push(element("h3", {}, `Items (${attempt.items_done}/${attempt.items_total} done)`),
          element("ul", { class: "items" }, ...attempt.items.map((item) =>
            element("li", {}, `#${item.index} `, statusBadge(item.status),
              item.child_run ? element("a", { href: "#/runs/" + encodeURIComponent(item.child_run) }, " child run")
                : ""))));
      }
      if (attempt.child_run) {
        parts.push(element("p", {}, "Started ",
          element("a", { href: "#/runs/" + encodeURIComponent(attempt.child_run) }, "run " + attempt.child_run)));
      }
      return element("details", { class: "attempt", open: index === 0 }, ...parts);
    }));
  }

  tick() {
    if (!this.run) return;
    const now = Date.now();
    for (const time of this.view.querySelectorAll("time[data-since]")) {
      time.textContent = formatSince(parseTime(time.dataset.since), now);
    }
    if (this.run.status === "running") {
      const cell = this.fields.facts.querySelector("[data-duration]");
      if (cell) cell.textContent = durationText(this.run.started, this.run.finished, now);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------

function start() {
  // An error nobody caught is shown, not only logged (the browser tests fail on it too).
  window.addEventListener("error", (event) => showProblem("The page failed: " + event.message));
  window.addEventListener("unhandledrejection", (event) => showProblem("The page failed: " + event.reason));
  takeTokenFromAddress();
  document.getElementById("sign-out").addEventListener("click", () => {
    session.token = null;
    page?.close();
    page = null;
    showSignIn();
  });
  // Pages are #/…; the skip link moves the focus and leaves the address alone.
  window.addEventListener("hashchange", () => { if (location.hash === "" || location.hash.startsWith("#/")) route(); });
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("main").focus();
  });
  route();
}

// Only in a browser page (the parser above is also loaded by itself, to be tested).
if (typeof document !== "undefined") start();
