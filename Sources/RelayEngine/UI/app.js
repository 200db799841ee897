// Relay's web UI (docs/ui.md): the pages, chosen by the address's hash, and the sign-in form. No framework and no
// build step: these modules are served as they are. Everything shown comes from the API with the token the tab is
// signed in with; live updates come from GET /api/v1/stream.

import {
  SignedOut, api, fields, fromTemplate, hooks, session, setLive, showProblem, takeTokenFromAddress,
} from "./common.js";
import { DeadLetterPage, DeadLettersPage } from "./deadletters.js";
import { OverviewPage } from "./overview.js";
import { RunPage } from "./run.js";
import { RunsPage } from "./runs.js";
import { WorkflowPage, WorkflowsPage } from "./workflows.js";

// The parser is tested in the browser by importing it from this module.
export { EventStreamParser } from "./stream.js";

// ---------------------------------------------------------------------------------------------------------------
// Pages. Each has `render(main)` and `close()`; the address's hash says which: #/runs?…, #/runs/ID, #/workflows,
// #/workflows/NAME, #/overview, #/dead-letters?…, #/dead-letters/ID.

let page = null;

/// The pages: a pattern of the address's path (#/PATH?QUERY), the section of the bar it belongs to, and how to make
/// the page from the pattern's decoded group and the query. The first that matches is shown; none: the runs.
const PAGES = [
  { path: /^\/runs\/([^/]+)$/, section: "runs", make: (id) => new RunPage(id) },
  { path: /^\/runs$/, section: "runs", make: (_, params) => new RunsPage(params) },
  { path: /^\/workflows\/([^/]+)$/, section: "workflows", make: (name) => new WorkflowPage(name) },
  { path: /^\/workflows$/, section: "workflows", make: () => new WorkflowsPage() },
  { path: /^\/overview$/, section: "overview", make: (_, params) => new OverviewPage(params) },
  { path: /^\/dead-letters\/([^/]+)$/, section: "dead-letters", make: (id) => new DeadLetterPage(id) },
  { path: /^\/dead-letters$/, section: "dead-letters", make: (_, params) => new DeadLettersPage(params) },
];
const DEFAULT_PAGE = { section: "runs", make: (_, params) => new RunsPage(params) };

function route() {
  page?.close();
  page = null;
  if (!session.token) { showSignIn(); return; }
  document.getElementById("sign-out").hidden = false;
  const hash = location.hash.replace(/^#/, "") || "/runs";
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  let chosen = DEFAULT_PAGE;
  let argument = null;
  for (const entry of PAGES) {
    const match = entry.path.exec(path);
    if (!match) continue;
    // A malformed escape in the address (%zz) opens the default page.
    try { argument = match[1] === undefined ? null : decodeURIComponent(match[1]); } catch { break; }
    chosen = entry;
    break;
  }
  page = chosen.make(argument, params);
  for (const link of document.querySelectorAll("nav [data-section]")) {
    link.toggleAttribute("aria-current", link.dataset.section === chosen.section);
  }
  const main = document.getElementById("main");
  main.replaceChildren();
  page.render(main);
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

function start() {
  // An error nobody caught is shown, not only logged (the browser tests fail on it too).
  window.addEventListener("error", (event) => showProblem("The page failed: " + event.message));
  window.addEventListener("unhandledrejection", (event) => showProblem("The page failed: " + event.reason));
  takeTokenFromAddress();
  hooks.signOut = signOut;
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
