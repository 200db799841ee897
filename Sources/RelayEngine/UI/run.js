// Relay's web UI: a run. GET /runs/{id}, its graph as SVG from the layout Relay computed, the selected step's
// values and log, the timeline of its attempts, its artifacts, the decisions it waits for, Cancel and Resume; read
// again whenever the stream says the run changed.

import {
  SignedOut, api, durationText, element, fields, formatDuration, formatSince, fromTemplate, jsonBlock, parseTime,
  showProblem, statusBadge,
} from "./common.js";
import { graphDrawing } from "./graph.js";
import { renderHTML, renderMarkdown } from "./markdown.js";
import { LiveStream } from "./stream.js";

export class RunPage {
  constructor(id) {
    this.id = id;
    this.run = null;
    this.text = "";
    this.selected = null;
    this.reloading = false;
    this.again = false;
    this.drawn = {};
  }

  /// Runs `draw` when `value` differs from what it drew last under `key`: what does not change is left as it is (a
  /// folded section stays folded, a focused button keeps the focus).
  once(key, value, draw) {
    const text = JSON.stringify(value ?? null);
    if (this.drawn[key] === text) return;
    this.drawn[key] = text;
    draw();
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
      ["Workflow", element("a", { href: "#/workflows/" + encodeURIComponent(run.workflow) }, run.workflow)],
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
    this.drawDecisions();
    this.drawAttempts();
    this.drawChildren();
    this.drawStep();
    this.once("artifacts", run.artifacts, () => this.drawArtifacts());
  }

  /// The decisions the run waits for: each one's question and a button per option
  /// (POST /runs/{id}/steps/{step}/answer with the option and, when given, who answers).
  drawDecisions() {
    const run = this.run;
    const kinds = new Map((run.graph ?? []).map((step) => [step.step, step.kind]));
    const waiting = run.status !== "running" ? [] : [...this.latestAttempts().values()].filter((attempt) =>
      attempt.status === "running" && kinds.get(attempt.step) === "decision" && Array.isArray(attempt.input?.options));
    this.fields["decisions-section"].hidden = waiting.length === 0;
    this.once("decisions", waiting.map((attempt) => [attempt.step, attempt.attempt, attempt.input]), () => {
      this.fields.decisions.replaceChildren(...waiting.map((attempt) => {
        const result = element("p", { class: "action-result", role: "status" });
        const buttons = attempt.input.options.map((option) => {
          const button = element("button", { type: "button", "data-option": String(option) }, String(option));
          button.addEventListener("click", () => this.answer(attempt.step, String(option), buttons, result));
          return button;
        });
        return element("article", { class: "decision", "data-step": attempt.step },
          element("h3", {}, "Step " + attempt.step),
          element("p", { class: "question" }, String(attempt.input.question ?? "")),
          element("div", { class: "actions", role: "group", "aria-label": "Options of step " + attempt.step },
            ...buttons),
          result);
      }));
    });
  }

  async answer(step, option, buttons, result) {
    for (const button of buttons) button.disabled = true;
    result.textContent = "";
    const by = this.fields["answered-by"].value.trim();
    try {
      await api(`/runs/${encodeURIComponent(this.id)}/steps/${encodeURIComponent(step)}/answer`,
        { method: "POST", body: by ? { option, by } : { option } });
      result.textContent = `Answered “${option}”; the run goes on once the dispatcher has it.`;
    } catch (error) {
      for (const button of buttons) button.disabled = false;
      if (!(error instanceof SignedOut)) result.textContent = error.message;
    }
  }

  /// The documents the run's artifact steps made: Markdown and HTML drawn as the page's own elements (markdown.js
  /// keeps nothing that runs or loads), text as it is; each with its source.
  drawArtifacts() {
    const artifacts = this.run.artifacts ?? [];
    this.fields["artifacts-section"].hidden = artifacts.length === 0;
    this.fields.artifacts.replaceChildren(...artifacts.map((artifact) => {
      const body = element("div", { class: "artifact-body", "data-format": artifact.format });
      if (artifact.format === "markdown") body.append(renderMarkdown(artifact.content));
      else if (artifact.format === "html") body.append(renderHTML(artifact.content));
      else body.append(element("pre", {}, artifact.content));
      return element("article", { class: "artifact", "data-artifact": artifact.name },
        element("h3", {}, artifact.name),
        element("p", { class: "hint" }, `${artifact.format}, ${artifact.size} bytes, made by step ${artifact.step} `,
          element("time", { datetime: artifact.created, title: artifact.created, "data-since": artifact.created },
            formatSince(parseTime(artifact.created)))),
        body,
        element("details", { class: "json-block" }, element("summary", {}, "Source"),
          element("pre", {}, artifact.content)));
    }));
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

  drawAttempts(now = Date.now()) {
    const span = this.timeSpan(now);
    const rows = this.run.steps.map((attempt) => {
      const select = element("button", { type: "button", class: "link-button" }, attempt.step);
      select.addEventListener("click", () => this.select(attempt.step));
      return element("tr", { "data-step": attempt.step, "data-status": attempt.status,
        "data-attempt": `${attempt.step}#${attempt.attempt}` },
        element("td", {}, select), element("td", { class: "number" }, String(attempt.attempt)),
        element("td", {}, statusBadge(attempt.status)),
        element("td", {}, attempt.started ? element("time", { datetime: attempt.started, title: attempt.started },
          new Date(attempt.started).toLocaleTimeString()) : "not yet"),
        element("td", { class: "number" },
          attempt.duration_ms !== null && attempt.duration_ms !== undefined ? formatDuration(attempt.duration_ms)
            : attempt.started ? durationText(attempt.started, attempt.finished) : ""),
        element("td", { class: "timeline" }, this.timelineBar(attempt, span, now)));
    });
    const focused = document.activeElement?.closest?.("tr[data-attempt]");
    const key = focused && this.fields.attempts.contains(focused) ? focused.dataset.attempt : null;
    this.fields.attempts.replaceChildren(...rows);
    if (key) this.fields.attempts.querySelector(`tr[data-attempt="${CSS.escape(key)}"] button`)?.focus();
    this.fields["timeline-scale"].textContent = span
      ? `Bars from the run's start (0) to ${this.run.finished ? "its end" : "now"}, ${formatDuration(span.length)}.`
      : "";
  }

  /// From the run's start to its end (or now while it runs), in milliseconds since 1970.
  timeSpan(now) {
    const start = parseTime(this.run.started);
    if (start === null) return null;
    let end = parseTime(this.run.finished) ?? now;
    for (const attempt of this.run.steps) end = Math.max(end, parseTime(attempt.finished) ?? start);
    return { start, length: Math.max(end - start, 1) };
  }

  /// One attempt on the run's time line: the wait from being scheduled to starting (a retry's backoff, a queue),
  /// then the time it ran (to now while it runs). Said in words too, for those who do not see the bar.
  timelineBar(attempt, span, now) {
    if (!span) return "";
    const scheduled = parseTime(attempt.scheduled);
    const started = parseTime(attempt.started);
    const finished = parseTime(attempt.finished) ?? (attempt.status === "running" ? now : started);
    const at = (time) => Math.min(Math.max((time - span.start) / span.length, 0), 1) * 100;
    const track = element("div", { class: "track" });
    const words = [];
    if (scheduled !== null && started !== null && started > scheduled) {
      const wait = element("div", { class: "span-wait" });
      wait.style.left = at(scheduled) + "%";
      wait.style.width = Math.max(at(started) - at(scheduled), 0.2) + "%";
      track.append(wait);
      words.push(`waited ${formatDuration(started - scheduled)}`);
    }
    if (started !== null) {
      const bar = element("div", { class: "span-ran", "data-status": attempt.status });
      bar.style.left = at(started) + "%";
      bar.style.width = Math.max(at(finished) - at(started), 0.4) + "%";
      track.append(bar);
      words.unshift(`started at +${formatDuration(started - span.start)}`);
      words.push(`${attempt.status === "running" ? "running for" : "ran"} ${formatDuration(finished - started)}`);
    } else {
      words.push("not started");
    }
    if (attempt.attempt > 1) words.push(`retry ${attempt.attempt - 1}`);
    const text = words.join(", ");
    track.title = text;
    return element("div", { class: "timeline-cell" }, track, element("span", { class: "visually-hidden" }, text));
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
      if (attempt.log) {
        const lines = attempt.log.split("\n").filter((line, index, all) => line || index < all.length - 1).length;
        parts.push(element("details", { class: "json-block step-log" },
          element("summary", {}, `Log (${lines} ${lines === 1 ? "line" : "lines"})`),
          element("pre", {}, attempt.log)));
      }
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
      this.drawAttempts(now);
    }
  }
}
