// Relay's web UI: the dead letters (GET /dead-letters, oldest first, paged by `after`) and one of them
// (GET /dead-letters/{id}, with its headers); Redrive (POST …/redrive) and Discard (DELETE, confirmed in the page).
// After a redrive of a trigger event, the runs it starts are linked and followed on the stream.

import {
  SignedOut, api, element, fields, formatSince, fromTemplate, parseTime, showProblem, statusBadge,
} from "./common.js";
import { LiveStream } from "./stream.js";

// ---------------------------------------------------------------------------------------------------------------
// What both pages show of a letter.

function receivedTime(letter) {
  return element("time", { datetime: letter.received_at, title: letter.received_at, "data-since": letter.received_at },
    formatSince(parseTime(letter.received_at)));
}

/// The excerpt, folded: its first line in the summary; opened, indented when it is JSON.
function payloadBlock(letter, open = false) {
  const text = letter.excerpt ?? "";
  let shown = text;
  let whole = false;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
    whole = true;
  } catch { /* not JSON, or cut: shown as it is */ }
  const cut = !whole && new TextEncoder().encode(text).length >= 509;
  const line = text.replace(/\s+/g, " ").slice(0, 90);
  return element("details", { class: "payload", open },
    element("summary", {}, element("span", { class: "payload-label" }, cut ? "Payload (first 512 bytes)" : "Payload"),
      " ", element("code", { class: "payload-line" }, line + (text.length > 90 ? "…" : ""))),
    element("pre", { class: "json" }, shown || "(empty)"));
}

/// Redrive and Discard for one letter, with Discard confirmed in the page. `onDone(kind, answer)` when the
/// server has done it; `say(nodes…)` says the result (or the failure) in words.
function letterActions(letter, { say, onDone }) {
  const id = letter.id;
  const box = element("div", { class: "actions letter-actions" });
  const redrivable = Boolean(letter.source_topic) && !letter.truncated;
  const redrive = element("button", { type: "button", "data-action": "redrive", disabled: !redrivable },
    "Redrive");
  const discard = element("button", { type: "button", class: "danger", "data-action": "discard" }, "Discard");
  box.append(redrive, discard);
  if (!redrivable) {
    box.append(element("span", { class: "hint" }, letter.truncated
      ? "Kept cut (too large): it can be read and discarded, not redriven."
      : "No source topic: it can only be discarded."));
  }

  const busy = (on) => { for (const button of box.querySelectorAll("button")) button.disabled = on; };

  redrive.addEventListener("click", async () => {
    busy(true);
    try {
      // The answer names the runs the event starts ({workflow, run_id}), as the dispatcher does.
      const answer = await api(`/dead-letters/${id}/redrive`, { method: "POST", body: {} });
      const runs = (answer.runs ?? []).map(({ workflow, run_id: run }) => ({ workflow, run }));
      onDone("redrive", { ...answer, runs });
    } catch (error) {
      if (error instanceof SignedOut) return;
      say(`Dead letter ${id} was not redriven: ${error.message}`);
      busy(false);
      if (!redrivable) redrive.disabled = true;
    }
  });

  discard.addEventListener("click", () => {
    const keep = element("button", { type: "button", class: "secondary", "data-action": "keep" }, "Keep it");
    const confirm = element("button", { type: "button", class: "danger", "data-action": "confirm-discard" },
      "Discard it");
    const question = element("div", { class: "confirm", role: "group", "aria-label": `Discard dead letter ${id}?` },
      element("span", {}, `Discard dead letter ${id}? It is removed for good, not published.`), keep, confirm);
    const back = () => {
      question.remove();
      redrive.hidden = false;
      discard.hidden = false;
      discard.focus();
    };
    redrive.hidden = true;
    discard.hidden = true;
    box.append(question);
    keep.addEventListener("click", back);
    question.addEventListener("keydown", (event) => { if (event.key === "Escape") back(); });
    confirm.addEventListener("click", async () => {
      keep.disabled = true;
      confirm.disabled = true;
      try {
        await api(`/dead-letters/${id}`, { method: "DELETE" });
        onDone("discard", { discarded: id });
      } catch (error) {
        if (error instanceof SignedOut) return;
        say(`Dead letter ${id} was not discarded: ${error.message}`);
        back();
      }
    });
    keep.focus();
  });
  return box;
}

/// The words for a done redrive or discard, with links to the runs a redriven event starts (each followed: its
/// status in `runStatus`, a map run id → element to fill).
function resultWords(kind, id, answer, runStatus) {
  if (kind === "discard") return [`Dead letter ${id} discarded: removed, not published.`];
  const words = [`Dead letter ${id} redriven: published back to ${answer.topic}.`];
  const runs = answer.runs;
  if (runs.length === 0) {
    if (answer.topic === "relay.events") {
      words.push(" It starts no run: it is no event, or no workflow loaded now is bound to its trigger instance, so "
        + "it will be set aside again.");
    }
    return words;
  }
  words.push(" It starts ");
  runs.forEach(({ workflow, run }, index) => {
    if (index > 0) words.push(index === runs.length - 1 ? " and " : ", ");
    const status = element("span", { class: "run-status", "data-run-status": run }, "(not started yet)");
    runStatus.set(run, status);
    words.push(element("a", { href: "#/runs/" + encodeURIComponent(run), "data-run": run }, `run ${run}`),
      ` of ${workflow} `, status);
  });
  words.push(".");
  return words;
}

/// Follows the runs redrives start: the stream's run changes, and GET /runs of their workflow when the stream
/// (re)connects without a resume (a run started before it connected).
class RunFollower {
  constructor() {
    this.statuses = new Map(); // run id → element showing its status
    this.workflows = new Map(); // run id → workflow
    this.changes = 0; // changes seen on the stream
    this.changed = new Map(); // run id → the count of changes when its last one came
    this.stream = new LiveStream("", {
      onOpen: (resumed) => { if (!resumed) this.check(); },
      onEvent: (event) => {
        if (event.type === "reset") { this.check(); return; }
        if (event.type !== "run" || !event.data) return;
        this.changes += 1;
        this.changed.set(event.data.run_id, this.changes);
        this.show(event.data.run_id, event.data.status);
      },
    });
  }

  follow(runs, statuses) {
    for (const { workflow, run } of runs) this.workflows.set(run, workflow);
    for (const [run, node] of statuses) this.statuses.set(run, node);
    this.check();
  }

  show(run, status) {
    const node = this.statuses.get(run);
    if (node && status) node.replaceChildren("(", statusBadge(status), ")");
  }

  async check() {
    for (const workflow of new Set(this.workflows.values())) {
      try {
        const asked = this.changes;
        const answer = await api("/runs?limit=100&workflow=" + encodeURIComponent(workflow));
        // A change the stream brought while the list was read is newer than the list.
        for (const run of answer.runs) {
          if (this.statuses.has(run.id) && !((this.changed.get(run.id) ?? 0) > asked)) this.show(run.id, run.status);
        }
      } catch (error) {
        if (!(error instanceof SignedOut)) showProblem("The runs could not be read: " + error.message);
      }
    }
  }

  close() { this.stream.close(); }
}


// ---------------------------------------------------------------------------------------------------------------
// The list.

export class DeadLettersPage {
  constructor(params) {
    this.after = /^\d+$/.test(params.get("after") ?? "") ? params.get("after") : "";
    const limit = Number(params.get("limit"));
    this.limit = Number.isInteger(limit) && limit >= 1 && limit <= 1000 ? limit : 50;
  }

  render(main) {
    this.view = fromTemplate("tpl-dead-letters");
    this.fields = fields(this.view);
    main.append(this.view);
    document.title = "Dead letters · Relay";
    this.fields.refresh.addEventListener("click", () => { this.say(); this.load(); });
    this.runs = new RunFollower();
    this.clock = setInterval(() => this.tick(), 1000);
    this.load();
  }

  close() {
    this.runs?.close();
    clearInterval(this.clock);
  }

  address(after = "") {
    const params = new URLSearchParams();
    if (after) params.set("after", after);
    if (this.limit !== 50) params.set("limit", String(this.limit));
    return "#/dead-letters" + (params.size ? "?" + params : "");
  }

  async load() {
    const params = new URLSearchParams({ limit: String(this.limit) });
    if (this.after) params.set("after", this.after);
    try {
      const answer = await api("/dead-letters?" + params);
      showProblem(null);
      this.draw(answer.dead_letters, answer.next_after);
    } catch (error) {
      if (!(error instanceof SignedOut)) showProblem("The dead letters could not be read: " + error.message);
    }
  }

  draw(letters, nextAfter) {
    const { letters: list, empty, first, next } = this.fields;
    list.replaceChildren(...letters.map((letter) => this.item(letter)));
    empty.hidden = letters.length > 0;
    first.hidden = !this.after;
    first.href = this.address();
    next.hidden = nextAfter === null || nextAfter === undefined;
    if (!next.hidden) next.href = this.address(String(nextAfter));
  }

  item(letter) {
    const title = `dead-letter-${letter.id}-title`;
    const facts = [
      ["Reason", element("span", { class: "reason-text", "data-field": "reason" }, letter.reason)],
      ["Source topic", letter.source_topic ? element("code", { "data-field": "topic" }, letter.source_topic)
        : element("span", { "data-field": "topic" }, "none")],
      ["Received", receivedTime(letter)],
    ];
    return element("li", { class: "letter", "data-letter": String(letter.id) },
      element("article", { "aria-labelledby": title },
        element("h2", { id: title }, element("a", { href: "#/dead-letters/" + letter.id }, `Dead letter ${letter.id}`)),
        element("dl", { class: "facts" }, ...facts.flatMap(([term, value]) => [element("dt", {}, term),
          element("dd", {}, value)])),
        payloadBlock(letter),
        letterActions(letter, {
          say: (...words) => this.say(...words),
          onDone: (kind, answer) => this.done(kind, letter, answer),
        })));
  }

  /// The result of an action, in words, where the focus goes (the letter it was about is gone).
  say(...words) {
    const result = this.fields.result;
    result.replaceChildren(...words);
    result.hidden = words.length === 0;
    if (words.length) result.focus();
  }

  done(kind, letter, answer) {
    const statuses = new Map();
    this.say(...resultWords(kind, letter.id, answer, statuses));
    if (answer.runs?.length) this.runs.follow(answer.runs, statuses);
    this.fields.letters.querySelector(`[data-letter="${letter.id}"]`)?.remove();
    this.fields.empty.hidden = this.fields.letters.children.length > 0;
  }

  tick() {
    const now = Date.now();
    for (const time of this.view.querySelectorAll("time[data-since]")) {
      time.textContent = formatSince(parseTime(time.dataset.since), now);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One letter.

export class DeadLetterPage {
  constructor(id) {
    this.id = id;
  }

  render(main) {
    this.view = fromTemplate("tpl-dead-letter");
    this.fields = fields(this.view);
    main.append(this.view);
    document.title = `Dead letter ${this.id} · Relay`;
    this.fields.title.textContent = `Dead letter ${this.id}`;
    this.runs = new RunFollower();
    this.load();
  }

  close() { this.runs?.close(); }

  async load() {
    if (!/^\d+$/.test(this.id)) {
      this.say(`"${this.id}" is not a dead letter's id (a positive number).`);
      return;
    }
    try {
      const letter = await api("/dead-letters/" + this.id);
      showProblem(null);
      this.draw(letter);
    } catch (error) {
      if (!(error instanceof SignedOut)) this.say(`Dead letter ${this.id} could not be read: ${error.message}`);
    }
  }

  draw(letter) {
    const f = this.fields;
    const facts = [
      ["Reason", letter.reason],
      ["Source topic", letter.source_topic ? element("code", {}, letter.source_topic) : "none"],
      ["Offset", String(letter.offset)],
      ["Key", letter.key ? element("code", {}, letter.key) : "none"],
      ["Received", receivedTime(letter)],
    ];
    if (letter.truncated) facts.push(["Kept", "cut: the message was too large to keep whole"]);
    f.facts.replaceChildren(...facts.flatMap(([term, value]) => [element("dt", {}, term), element("dd", {}, value)]));
    const headers = Object.entries(letter.headers ?? {});
    f.headers.replaceChildren(...headers.map(([name, value]) => element("tr", {},
      element("th", { scope: "row" }, element("code", {}, name)), element("td", {}, element("code", {}, value)))));
    f["no-headers"].hidden = headers.length > 0;
    f.payload.replaceChildren(payloadBlock(letter, true));
    f.actions.replaceChildren(letterActions(letter, {
      say: (...words) => this.say(...words),
      onDone: (kind, answer) => {
        const statuses = new Map();
        this.say(...resultWords(kind, letter.id, answer, statuses), " ",
          element("a", { href: "#/dead-letters" }, "Back to the dead letters"));
        if (answer.runs?.length) this.runs.follow(answer.runs, statuses);
        f.actions.replaceChildren();
      },
    }));
  }

  say(...words) {
    this.fields.result.replaceChildren(...words);
    this.fields.result.hidden = words.length === 0;
    if (words.length) this.fields.result.focus();
  }
}
