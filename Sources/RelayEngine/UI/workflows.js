// Relay's web UI: the workflows. The list (GET /workflows: every workflow loaded and every file that does not load)
// and a workflow's page (GET /workflows/{name}: its graph, trigger, versions, recent runs, the error of its file as
// it is now), with a form that starts a run by hand (POST /workflows/{name}/runs). Both read again when the stream
// says one of its runs changed, and when the tab comes back into view (a file edited meanwhile).

import {
  SignedOut, api, durationText, element, fields, formatSince, fromTemplate, parseTime, showProblem, sleep,
  statusBadge,
} from "./common.js";
import { graphDrawing } from "./graph.js";
import { LiveStream } from "./stream.js";

/// How often a run started by hand is looked for in the run list, besides the stream, until it exists.
const START_POLL_MS = 1500;
/// How long a run started by hand is waited for before the page says it has not started yet.
const START_WAIT_MS = 60000;

// ---------------------------------------------------------------------------------------------------------------
// What both pages show.

/// "✓ loads" or "✕ does not load": a word and a symbol, not colour alone.
function validityBadge(valid) {
  const badge = element("span", { class: `validity ${valid ? "valid" : "invalid"}`, "data-valid": String(valid) });
  badge.append(element("span", { class: "mark", "aria-hidden": "true" }, valid ? "✓" : "✕"), " ",
    valid ? "loads" : "does not load");
  return badge;
}

/// A problem of a file as the API says it (`/DIR/workflows/x.yaml:4: steps[1].needs: unknown step "zzz"; …`): where
/// (the file's name without the directory, the line, the field) apart from what was expected and found.
export function splitProblem(text) {
  const pattern = /^(?:[^:\s]*\/)?([^/:\s]+\.ya?ml(?::\d+)*)(?::\s*([A-Za-z_][\w.\[\]-]*(?=:\s)))?:\s*([\s\S]*)$/;
  const match = pattern.exec(text);
  if (!match) return { where: "", what: text };
  return { where: match[2] ? `${match[1]}: ${match[2]}` : match[1], what: match[3] };
}

function problemList(problems) {
  return element("ul", { class: "problems" }, ...problems.map((problem) => {
    const { where, what } = splitProblem(problem);
    return element("li", { "data-problem": problem },
      where ? element("code", { class: "where" }, where) : null, where ? ": " : null,
      element("span", { class: "what" }, what));
  }));
}

/// What starts the workflow: "webhook · webhook", or none.
function triggerName(trigger) {
  if (!trigger) return "none";
  return `${trigger.plugin} · ${trigger.trigger ?? trigger.task}`;
}

/// The trigger's details: its input, schedule, connection, instance.
function triggerDetails(trigger) {
  if (!trigger) return "started by hand or as a sub-workflow only";
  const parts = [];
  if (trigger.task) parts.push("task");
  if (trigger.schedule) parts.push(`schedule ${trigger.schedule}`);
  if (trigger.every_seconds !== undefined) parts.push(`every ${trigger.every_seconds} s`);
  if (trigger.connection) parts.push(`connection ${trigger.connection}`);
  const input = JSON.stringify(trigger.input);
  if (input && input !== "{}" && input !== "null") {
    parts.push(`input ${input.length > 80 ? input.slice(0, 79) + "…" : input}`);
  }
  return parts.join(", ");
}

function shortHash(hash) { return element("code", { class: "hash", title: hash }, hash.slice(0, 12)); }

/// The runs of the last 24 hours by status ("2 ✓ succeeded, 1 ✕ failed"), or "none".
function runCounts(runs) {
  if (!runs) return [];
  const parts = [];
  for (const status of ["running", "succeeded", "failed", "cancelled"]) {
    if (!runs[status]) continue;
    if (parts.length) parts.push(", ");
    parts.push(`${runs[status]} `, statusBadge(status));
  }
  return parts.length ? parts : ["none"];
}

function timeSince(text) {
  return element("time", { datetime: text, title: text, "data-since": text }, formatSince(parseTime(text)));
}

/// Reads again (`load`) when asked, one read at a time: asks that come during a read cause one more after it, a
/// second later at the earliest (each read reads the workflow files: a busy stream must not make the page read them
/// without a pause).
class Reloader {
  constructor(load, pause = 1000) {
    this.load = load;
    this.pause = pause;
    this.busy = false;
    this.again = false;
  }

  async run() {
    if (this.busy) { this.again = true; return; }
    this.busy = true;
    try {
      do {
        this.again = false;
        await this.load();
        if (this.again) await sleep(this.pause);
      } while (this.again);
    } finally {
      this.busy = false;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The list.

export class WorkflowsPage {
  constructor() {
    this.text = "";
    this.reloader = new Reloader(() => this.load());
    this.onVisible = () => { if (document.visibilityState === "visible") this.reloader.run(); };
  }

  render(main) {
    this.view = fromTemplate("tpl-workflows");
    this.fields = fields(this.view);
    main.append(this.view);
    document.title = "Workflows · Relay";
    this.stream = new LiveStream("", {
      onOpen: (resumed) => { if (!resumed) this.reloader.run(); },
      onEvent: (event) => { if (event.type === "run" || event.type === "reset") this.reloader.run(); },
    });
    document.addEventListener("visibilitychange", this.onVisible);
  }

  close() {
    this.closed = true;
    this.stream?.close();
    document.removeEventListener("visibilitychange", this.onVisible);
  }

  async load() {
    try {
      const answer = await api("/workflows");
      if (this.closed) return;
      showProblem(null);
      const text = JSON.stringify(answer.workflows);
      if (text === this.text) return;
      this.text = text;
      this.draw(answer.workflows);
    } catch (error) {
      if (error instanceof SignedOut) return;
      showProblem("The workflows could not be read: " + error.message);
      this.fields.loading.textContent = "The workflows could not be read.";
    }
  }

  draw(workflows) {
    const { rows, empty } = this.fields;
    rows.replaceChildren(...workflows.flatMap((workflow) => this.rows(workflow)));
    empty.hidden = workflows.length > 0;
    this.fields.loading.hidden = true;
  }

  /// A workflow's row, and under it a row with its file's problems when it has some.
  rows(workflow) {
    const name = workflow.name;
    const problemsID = `problems-${workflow.file.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const title = name
      ? element("a", { href: "#/workflows/" + encodeURIComponent(name) }, name)
      : element("span", { class: "unnamed" }, "(not loaded)");
    const file = element("td", { class: "file" }, element("code", {}, workflow.file), " ",
      validityBadge(workflow.valid));
    const row = element("tr", {
      "data-workflow": name ?? "", "data-file": workflow.file, "data-valid": String(workflow.valid),
      "aria-describedby": workflow.valid ? null : problemsID,
    },
    element("th", { scope: "row", class: "workflow-name" }, title),
    element("td", { class: "trigger" }, ...(name ? [triggerName(workflow.trigger), element("br"),
      element("small", {}, triggerDetails(workflow.trigger))] : ["–"])),
    element("td", { class: "version" }, workflow.version ? shortHash(workflow.version) : "–"),
    file,
    element("td", { class: "counts" }, ...(name ? [...runCounts(workflow.runs), element("br"),
      element("a", { href: "#/runs?workflow=" + encodeURIComponent(name), "aria-label": `Runs of ${name}` },
        "runs →")] : ["–"])));
    if (workflow.valid) return [row];
    const note = name
      ? "The file as it is now does not load; the version above keeps running until it is fixed:"
      : "This file does not load:";
    const problems = element("tr", { class: "problem-row", "data-problems-of": workflow.file },
      element("td", { colspan: "5", id: problemsID }, element("p", {}, note), problemList(workflow.problems)));
    return [row, problems];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A workflow.

export class WorkflowPage {
  constructor(name) {
    this.name = name;
    this.workflow = null;
    this.parts = {};
    this.selected = null;
    this.seen = new Set(); // the runs the stream has reported (a run started by hand is waited for in it)
    this.waiting = null; // {id, found()} while a run started by hand is waited for
    this.reloader = new Reloader(() => this.load());
    this.onVisible = () => { if (document.visibilityState === "visible") this.reloader.run(); };
    this.controller = new AbortController();
  }

  get path() { return "/workflows/" + encodeURIComponent(this.name); }

  render(main) {
    this.view = fromTemplate("tpl-workflow");
    this.fields = fields(this.view);
    main.append(this.view);
    document.title = `Workflow ${this.name} · Relay`;
    this.fields.title.textContent = "Workflow " + this.name;
    this.fields["all-runs"].href = "#/runs?workflow=" + encodeURIComponent(this.name);
    this.fields["start-form"].addEventListener("submit", (event) => {
      event.preventDefault();
      this.start();
    });
    this.fields.event.addEventListener("input", () => this.say(""));
    this.stream = new LiveStream("?workflow=" + encodeURIComponent(this.name), {
      onOpen: (resumed) => { if (!resumed) this.reloader.run(); },
      onEvent: (event) => this.changed(event),
    });
    document.addEventListener("visibilitychange", this.onVisible);
    this.clock = setInterval(() => this.tick(), 1000);
  }

  close() {
    this.closed = true;
    this.controller.abort();
    this.stream?.close();
    document.removeEventListener("visibilitychange", this.onVisible);
    clearInterval(this.clock);
  }

  changed(event) {
    if (event.type === "reset") { this.reloader.run(); return; }
    if (event.type !== "run" || !event.data) return;
    this.seen.add(event.data.run_id);
    if (this.waiting?.id === event.data.run_id) this.waiting.found();
    this.reloader.run();
  }

  async load() {
    try {
      const workflow = await api(this.path);
      if (this.closed) return;
      showProblem(null);
      this.workflow = workflow;
      this.draw();
    } catch (error) {
      if (error instanceof SignedOut) return;
      showProblem(`Workflow ${this.name} could not be read: ${error.message}`);
      // What is shown stays; before anything was, the reason.
      if (!this.workflow) this.fields.loading.textContent = `Workflow ${this.name} could not be read.`;
    }
  }

  /// Draws what changed since the last read (the form is never redrawn: what is typed in it stays).
  draw() {
    const workflow = this.workflow;
    const f = this.fields;
    const changed = (part, value) => {
      const text = JSON.stringify(value);
      if (this.parts[part] === text) return false;
      this.parts[part] = text;
      return true;
    };
    f.loading.hidden = true;
    f.content.hidden = false;
    if (changed("validity", [workflow.valid, workflow.problems])) {
      f.validity.replaceChildren(validityBadge(workflow.valid));
      f["problems-section"].hidden = workflow.valid;
      f.problems.replaceChildren(problemList(workflow.problems));
    }
    if (changed("facts", [workflow.file, workflow.trigger, workflow.version, workflow.steps_count,
      workflow.timeout_seconds, workflow.runs])) {
      this.drawFacts();
    }
    if (changed("graph", [workflow.graph, workflow.layout, workflow.steps])) {
      this.drawGraph();
      this.drawStep();
    }
    if (changed("runs", workflow.recent_runs)) this.drawRuns();
    if (changed("versions", [workflow.versions, workflow.version])) this.drawVersions();
    if (changed("source", workflow.source)) f.source.textContent = workflow.source;
  }

  drawFacts() {
    const workflow = this.workflow;
    const facts = [
      ["Trigger", [triggerName(workflow.trigger), element("br"),
        element("small", {}, triggerDetails(workflow.trigger))]],
      ["File", element("code", {}, workflow.file)],
      ["Version", [shortHash(workflow.version), " (the active one)"]],
      ["Steps", String(workflow.steps_count)],
      ["Timeout", workflow.timeout_seconds === null ? "none" : `${workflow.timeout_seconds} s`],
      ["Runs, last 24 h", runCounts(workflow.runs)],
    ];
    if (workflow.trigger) facts.splice(1, 0, ["Trigger instance", element("code", {}, workflow.trigger.instance)]);
    this.fields.facts.replaceChildren(...facts.flatMap(([term, value]) => [
      element("dt", {}, term), element("dd", {}, ...[value].flat())]));
  }

  /// What a node says under the step's name: what it runs.
  static stepDetail(step) {
    if (!step) return "";
    let text = step.kind === "action" ? `${step.plugin} · ${step.action}`
      : step.kind === "workflow" ? `runs ${step.workflow}` : step.kind;
    if (step.for_each) text = "each: " + text;
    return text;
  }

  drawGraph() {
    const workflow = this.workflow;
    const { graph } = this.fields;
    const hadFocus = document.activeElement?.closest?.("[data-step]")?.dataset.step;
    const steps = new Map(workflow.steps.map((step) => [step.id, step]));
    const { drawing } = graphDrawing({
      graph: workflow.graph, layout: workflow.layout, label: `Graph of workflow ${workflow.name}`,
      selected: this.selected, detailOf: (id) => WorkflowPage.stepDetail(steps.get(id)),
      onSelect: (id) => this.select(id),
    });
    graph.replaceChildren(drawing);
    if (hadFocus) graph.querySelector(`[data-step="${CSS.escape(hadFocus)}"]`)?.focus();
  }

  select(id) {
    this.selected = id;
    for (const node of this.fields.graph.querySelectorAll("[data-step]")) {
      node.classList.toggle("selected", node.dataset.step === id);
      node.setAttribute("aria-pressed", String(node.dataset.step === id));
    }
    this.drawStep();
  }

  /// The selected step's definition: what it runs, what it needs, when and how.
  drawStep() {
    const { "step-title": title, "step-detail": detail } = this.fields;
    const step = this.workflow.steps.find((each) => each.id === this.selected);
    if (!step) return;
    title.textContent = "Step " + step.id;
    const facts = [["Kind", step.kind]];
    if (step.kind === "action") facts.push(["Plugin", step.plugin], ["Action", step.action]);
    if (step.kind === "workflow") {
      facts.push(["Workflow", element("a", { href: "#/workflows/" + encodeURIComponent(step.workflow) },
        step.workflow)]);
    }
    if (step.connection) facts.push(["Connection", step.connection]);
    facts.push(["Needs", step.needs.length ? step.needs.join(", ") : "nothing: it starts the run"]);
    if (step.when) facts.push(["When", element("code", {}, step.when)]);
    if (step.for_each) {
      facts.push(["For each", element("code", {}, step.for_each)], ["Concurrency", String(step.concurrency)]);
    }
    facts.push(["On failure", step.continue_on_failure ? "the run goes on" : "the run fails"]);
    detail.replaceChildren(element("dl", { class: "facts" },
      ...facts.flatMap(([term, value]) => [element("dt", {}, term), element("dd", {}, value)])));
  }

  drawRuns() {
    const runs = this.workflow.recent_runs;
    this.fields["runs-empty"].hidden = runs.length > 0;
    this.fields.runs.replaceChildren(...runs.map((run) => element("tr",
      { "data-run": run.id, "data-status": run.status },
      element("td", { class: "run-id" }, element("a", { href: "#/runs/" + encodeURIComponent(run.id) }, run.id)),
      element("td", {}, statusBadge(run.status)),
      element("td", {}, timeSince(run.started)),
      element("td", { class: "number" }, element("span", { "data-duration": "" },
        durationText(run.started, run.finished))),
      element("td", {}, run.version ? shortHash(run.version) : "unknown"))));
    this.tick();
  }

  drawVersions() {
    const { versions, version } = this.workflow;
    this.fields["versions-empty"].hidden = versions.length > 0;
    this.fields["version-unused"].hidden = versions.length === 0 || versions.some((each) => each.hash === version);
    this.fields.versions.replaceChildren(...versions.map((each) => element("tr", { "data-version": each.hash },
      element("td", {}, shortHash(each.hash), each.hash === version ? " (active)" : ""),
      element("td", {}, element("time", { datetime: each.first_seen, title: each.first_seen },
        new Date(each.first_seen).toLocaleString()), " (", timeSince(each.first_seen), ")"),
      element("td", {}, element("code", {}, each.file.split("/").pop())))));
  }

  /// What the form says under the text area; `error` also marks the text area invalid.
  say(message, { error = false, link = null } = {}) {
    const result = this.fields["start-result"];
    result.replaceChildren(message, link ?? "");
    result.classList.toggle("error", error);
    this.fields.event.setAttribute("aria-invalid", String(error));
  }

  /// Starts a run with the text area's JSON as its trigger event, then opens it once the dispatcher has made it.
  async start() {
    const { event, start } = this.fields;
    const text = event.value.trim();
    let body;
    try {
      body = text === "" ? {} : JSON.parse(text);
    } catch (error) {
      this.say(`The trigger event is not valid JSON: ${error.message}. Nothing was sent.`, { error: true });
      event.focus();
      return;
    }
    start.disabled = true;
    this.say("Starting…");
    let answer;
    try {
      answer = await api(this.path + "/runs", { method: "POST", body, signal: this.controller.signal });
    } catch (error) {
      start.disabled = false;
      if (error instanceof SignedOut || this.closed) return;
      const reason = error.message.replace(/[.\s]*$/, "");
      this.say(`The server refused to start the run: ${reason}.`, { error: true });
      event.focus();
      return;
    }
    const id = answer.run_id;
    const link = element("a", { href: "#/runs/" + encodeURIComponent(id) }, id);
    this.say("Accepted; waiting for the dispatcher to start run ", { link });
    const started = await this.waitForRun(id);
    if (this.closed) return;
    start.disabled = false;
    if (started) {
      location.hash = "#/runs/" + encodeURIComponent(id);
    } else {
      this.say("Accepted, but the dispatcher has not started it yet (is it running?): run ", { link });
    }
  }

  /// Whether run `id` exists within START_WAIT_MS: the stream reports it, or (should the stream be down) the run
  /// list has it. The list is read rather than the run, whose 404 until then would be an error in the console.
  async waitForRun(id) {
    if (this.seen.has(id)) return true;
    let found = false;
    const signal = this.controller.signal;
    const woken = new AbortController();
    this.waiting = { id, found: () => { found = true; woken.abort(); } };
    const deadline = Date.now() + START_WAIT_MS;
    try {
      while (!found && !this.closed && Date.now() < deadline) {
        await sleep(START_POLL_MS, AbortSignal.any([signal, woken.signal]));
        if (found || this.closed) break;
        try {
          const answer = await api(`/runs?workflow=${encodeURIComponent(this.name)}&limit=50`, { signal });
          if (answer.runs.some((run) => run.id === id)) found = true;
        } catch (error) {
          if (error instanceof SignedOut || signal.aborted) return false;
        }
      }
    } finally {
      this.waiting = null;
    }
    return found;
  }

  tick() {
    if (!this.workflow) return;
    const now = Date.now();
    for (const time of this.view.querySelectorAll("time[data-since]")) {
      time.textContent = formatSince(parseTime(time.dataset.since), now);
    }
    const byID = new Map(this.workflow.recent_runs.map((run) => [run.id, run]));
    for (const row of this.fields.runs.querySelectorAll("tr[data-status=running]")) {
      const run = byID.get(row.dataset.run);
      const cell = row.querySelector("[data-duration]");
      if (run && cell) cell.textContent = durationText(run.started, run.finished, now);
    }
  }
}
