// Relay's web UI: a run. GET /runs/{id}, its graph as SVG from the layout Relay computed, the selected step's
// values, Cancel and Resume; read again whenever the stream says the run changed.

import {
  SignedOut, api, durationText, element, fields, formatDuration, formatSince, fromTemplate, jsonBlock, parseTime,
  showProblem, statusBadge,
} from "./common.js";
import { graphDrawing } from "./graph.js";
import { LiveStream } from "./stream.js";

export class RunPage {
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
    const { drawing, statuses } = graphDrawing({
      graph: run.graph, layout: run.layout, label: `Graph of workflow ${run.workflow}`, selected: this.selected,
      statusOf: (step) => this.stepStatus(step, latest), attemptOf: (step) => latest.get(step),
      onSelect: (step) => this.select(step),
    });
    graph.replaceChildren(drawing);
    legend.replaceChildren(...statuses.map((status) => element("li", {}, statusBadge(status))));
    if (hadFocus) graph.querySelector(`[data-step="${CSS.escape(hadFocus)}"]`)?.focus();
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
