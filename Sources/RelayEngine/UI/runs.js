// Relay's web UI: the runs, a page of GET /runs kept current by the stream.

import {
  SignedOut, api, durationText, element, fields, formatSince, fromTemplate, parseTime, showProblem, statusBadge,
} from "./common.js";
import { LiveStream } from "./stream.js";

export class RunsPage {
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
    // The address's workflow is chosen at once: a filter changed before the workflows are read keeps it.
    if (this.filter.workflow) {
      workflow.append(element("option", { value: this.filter.workflow }, this.filter.workflow));
      workflow.value = this.filter.workflow;
    }
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
      // The loaded workflows (a file that never loaded has no name) and the address's, by name; what is chosen stays.
      const select = this.fields.workflow;
      const names = new Set(answer.workflows.map((workflow) => workflow.name).filter((name) => name));
      if (this.filter.workflow) names.add(this.filter.workflow);
      const chosen = select.value;
      select.replaceChildren(select.options[0],
        ...[...names].sort().map((name) => element("option", { value: name }, name)));
      select.value = chosen;
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
