// Relay's web UI: the overview, from the figures GET /metrics serves (Prometheus' text format, docs/pipeline.md
// *Metrics*): read every few seconds while the page is open; a rate is the change of a counter between two reads
// divided by the time between them.

import { element, fields, formatDuration, fromTemplate, setLive, showProblem, sleep } from "./common.js";
import { histogramsBy, parseMetrics, quantileBound, sumBy } from "./metrics.js";

/// Rates are over the reads of the last minute (or since the page opened, when that is shorter).
const WINDOW_SECONDS = 60;

/// A histogram bucket's bound as people read it: "≤ 5 ms"; past the last finite bound, "> 60 s".
export function boundText(bound, lastFinite) {
  if (bound === null) return "";
  if (bound === Infinity) return `> ${formatSeconds(lastFinite)}`;
  return `≤ ${formatSeconds(bound)}`;
}

function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 1) return `${+(seconds * 1000).toPrecision(3)} ms`;
  return formatDuration(seconds * 1000);
}

/// A counter's increase from `before` to `after` (Maps key → value); a counter that went down was reset (the
/// process restarted): its increase is its value now, as Prometheus' rate() counts it.
export function increase(before, after) {
  let total = 0;
  for (const [key, value] of after) {
    const old = before.get(key) ?? 0;
    total += value >= old ? value - old : value;
  }
  return total;
}

/// What the page needs of one read of /metrics.
export function figures(parsed) {
  const total = (map) => [...map.values()].reduce((sum, value) => sum + value, 0);
  const started = sumBy(parsed, "relay_runs_started_total", "workflow");
  const finished = sumBy(parsed, "relay_runs_finished_total", "workflow");
  const byStatus = (status) => sumBy(parsed, "relay_runs_finished_total", "workflow",
    (labels) => labels.status === status);
  const steps = histogramsBy(parsed, "relay_step_duration_seconds", "plugin");
  const backlog = (parsed.families.get("relay_backlog_messages")?.samples ?? [])
    .map((sample) => ({ topic: sample.labels.topic ?? "", group: sample.labels.group ?? "", value: sample.value }))
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.group.localeCompare(b.group));
  return {
    started, finished,
    succeeded: byStatus("succeeded"), failed: byStatus("failed"), cancelled: byStatus("cancelled"),
    startedTotal: total(started), failedTotal: total(byStatus("failed")),
    jobsFailed: total(sumBy(parsed, "relay_jobs_total", null, (labels) => labels.status === "failed")),
    deadlineFailures: total(sumBy(parsed, "relay_steps_failed_by_deadline_total")),
    deadLetters: sumBy(parsed, "relay_dead_letters_total", "source_topic"),
    deadLettersStored: parsed.families.has("relay_dead_letters_stored")
      ? total(sumBy(parsed, "relay_dead_letters_stored")) : null,
    steps, backlog,
  };
}

export class OverviewPage {
  constructor(params) {
    // Seconds between reads: 5, or the address's `every` (1 to 60).
    const every = Number(params.get("every"));
    this.every = Number.isInteger(every) && every >= 1 && every <= 60 ? every : 5;
    this.samples = []; // {at (ms), figures}, the last minute's
    this.controller = new AbortController();
  }

  render(main) {
    this.view = fromTemplate("tpl-overview");
    this.fields = fields(this.view);
    main.append(this.view);
    document.title = "Overview · Relay";
    this.fields.every.textContent = `${this.every} s`;
    this.poll();
  }

  close() {
    this.controller.abort();
    setLive("off");
  }

  async poll() {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      await this.read(signal);
      await sleep(this.every * 1000, signal);
    }
  }

  async read(signal) {
    let text;
    try {
      const response = await fetch("/metrics", { signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      text = await response.text();
    } catch (error) {
      if (signal.aborted) return;
      showProblem("/metrics could not be read: " + error.message);
      setLive("reconnecting", "/metrics could not be read: " + error.message);
      return;
    }
    let parsed;
    try {
      parsed = parseMetrics(text);
    } catch (error) {
      showProblem("/metrics could not be read: " + error.message);
      return;
    }
    showProblem(null);
    // The bar's mark: live while the reads succeed (this page follows /metrics, not the stream).
    setLive("live", `/metrics read every ${this.every} s`);
    const now = Date.now();
    this.samples.push({ at: now, figures: figures(parsed) });
    // The reads of the window, and the last one before it (the rate's start).
    while (this.samples.length > 2 && now - this.samples[1].at >= WINDOW_SECONDS * 1000) this.samples.shift();
    this.draw(now);
  }

  draw(now) {
    const latest = this.samples.at(-1).figures;
    const first = this.samples[0];
    const seconds = (now - first.at) / 1000;
    const f = this.fields;
    f.read.textContent = new Date(now).toLocaleTimeString();
    f.read.dateTime = new Date(now).toISOString();
    f.reads.textContent = String(this.samples.length);

    // Runs per minute, all workflows and each.
    const rate = (before, after) => (seconds > 0 ? (increase(before, after) / seconds) * 60 : null);
    const perMinute = (value) => (value === null ? "measuring…" : `${value.toFixed(value < 10 ? 1 : 0)} per minute`);
    const startedRate = rate(first.figures.started, latest.started);
    const finishedRate = rate(first.figures.finished, latest.finished);
    const failedRate = rate(first.figures.failed, latest.failed);
    setFigure(f["runs-rate"], perMinute(startedRate), {
      increase: this.samples.length > 1 ? increase(first.figures.started, latest.started) : "",
      seconds: seconds.toFixed(3), rate: startedRate ?? "",
    });
    f["rate-window"].textContent = this.samples.length > 1
      ? `${Math.round(seconds)} s` : "(a rate needs two reads)";
    setFigure(f["finished-rate"], perMinute(finishedRate), { rate: finishedRate ?? "" });
    setFigure(f["failed-rate"], perMinute(failedRate), { rate: failedRate ?? "" });
    setFigure(f["runs-started"], String(latest.startedTotal), { value: latest.startedTotal });

    const names = [...new Set([...latest.started.keys(), ...latest.finished.keys()])].sort();
    f["workflow-rows"].replaceChildren(...names.map((name) => {
      const one = (map) => new Map([[name, map.get(name) ?? 0]]);
      const workflowRate = rate(one(first.figures.started), one(latest.started));
      return element("tr", { "data-workflow": name },
        element("th", { scope: "row" }, name),
        numberCell(latest.started.get(name) ?? 0, "started"),
        numberCell(latest.succeeded.get(name) ?? 0, "succeeded"),
        numberCell(latest.failed.get(name) ?? 0, "failed"),
        numberCell(latest.cancelled.get(name) ?? 0, "cancelled"),
        element("td", { class: "number", "data-figure": "rate" },
          workflowRate === null ? "measuring…" : workflowRate.toFixed(1)));
    }));
    f["no-workflows"].hidden = names.length > 0;

    // Failures.
    setFigure(f["runs-failed"], String(latest.failedTotal), { value: latest.failedTotal });
    setFigure(f["jobs-failed"], String(latest.jobsFailed), { value: latest.jobsFailed });
    setFigure(f["deadline-failures"], String(latest.deadlineFailures), { value: latest.deadlineFailures });
    const sent = [...latest.deadLetters.values()].reduce((sum, value) => sum + value, 0);
    setFigure(f["dead-letters-sent"], String(sent), { value: sent });
    f["dead-letters-topics"].textContent = latest.deadLetters.size
      ? "(" + [...latest.deadLetters].map(([topic, value]) => `${value} from ${topic}`).join(", ") + ")" : "";
    setFigure(f["dead-letters-kept"], latest.deadLettersStored === null ? "not served here"
      : String(latest.deadLettersStored), { value: latest.deadLettersStored ?? "" });

    // Step durations per plugin.
    const plugins = [...latest.steps.keys()].sort();
    f["step-rows"].replaceChildren(...plugins.map((plugin) => {
      const histogram = latest.steps.get(plugin);
      const finite = histogram.buckets.filter((bucket) => Number.isFinite(bucket.le)).at(-1)?.le ?? null;
      const p50 = quantileBound(histogram.buckets, 0.5);
      const p99 = quantileBound(histogram.buckets, 0.99);
      return element("tr", { "data-plugin": plugin },
        element("th", { scope: "row" }, plugin),
        numberCell(histogram.count, "jobs"),
        element("td", { class: "number", "data-figure": "mean" },
          histogram.count > 0 ? formatSeconds(histogram.sum / histogram.count) : ""),
        element("td", { class: "number", "data-figure": "p50", "data-bound": String(p50 ?? "") },
          boundText(p50, finite)),
        element("td", { class: "number", "data-figure": "p99", "data-bound": String(p99 ?? "") },
          boundText(p99, finite)));
    }));
    f["no-steps"].hidden = plugins.length > 0;

    // Backlog per topic.
    f["backlog-rows"].replaceChildren(...latest.backlog.map((entry) => element("tr",
      { "data-topic": entry.topic, "data-group": entry.group },
      element("th", { scope: "row" }, element("code", {}, entry.topic)),
      element("td", {}, element("code", {}, entry.group)),
      numberCell(entry.value, "backlog"))));
    const waiting = latest.backlog.reduce((sum, entry) => sum + entry.value, 0);
    setFigure(f["backlog-total"], String(waiting), { value: waiting });
    f["backlog-unit"].textContent = waiting === 1 ? "message" : "messages";
    f["no-backlog"].hidden = latest.backlog.length > 0;
  }
}

function numberCell(value, name) {
  return element("td", { class: "number", "data-figure": name, "data-value": String(value) },
    Number.isFinite(value) ? value.toLocaleString("en-US") : String(value));
}

function setFigure(node, text, data) {
  node.textContent = text;
  for (const [key, value] of Object.entries(data)) node.dataset[key] = String(value);
}
