// Relay's web UI: Markdown and HTML to DOM, safely. An artifact's Markdown comes from a run (a trigger's event, a
// plugin's output), so nothing in it is trusted: every piece of its text becomes a text node (raw HTML shows as
// text), a link is made only to http, https or mailto addresses (anything else is text), and an image is not loaded
// (the page makes no request the operator did not ask for): it becomes a link to the image. The work is linear in
// the text: a delimiter with no closer is not looked for again, and nesting is cut at MAX_DEPTH.
//
// What it reads: ATX headings (# to ######, drawn three levels down so that they sit under the artifact's name),
// paragraphs, hard line breaks (two trailing spaces or a backslash), block quotes, bullet and numbered lists
// (nested by indentation), fenced code blocks (``` or ~~~), indented code blocks, thematic breaks, GitHub's pipe
// tables with their alignment, and inline code spans, **strong**, *emphasis*, ~~strikethrough~~,
// [links](url "title"), <autolinks>, ![images](url) and backslash escapes.

import { element } from "./common.js";

const MAX_DEPTH = 16;
const SAFE_URL = /^(https?:\/\/|mailto:)/i;
const ESCAPABLE = /[!-/:-@[-`{-~]/;

/// The Markdown `text` as a DocumentFragment.
export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  blocks(String(text).replace(/\r\n?/g, "\n").split("\n"), fragment, 0);
  return fragment;
}

/// A link's target, or null when it may not be one (javascript:, data:, relative addresses…).
export function safeURL(url) {
  const trimmed = String(url).trim();
  return SAFE_URL.test(trimmed) ? trimmed : null;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$/;
const BREAK = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const ITEM = /^( {0,12})([-*+]|(\d{1,9})[.)])(?:\s+(.*))?$/;
const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function blocks(lines, parent, depth) {
  if (depth > MAX_DEPTH) {
    parent.append(element("p", {}, lines.join("\n")));
    return;
  }
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^\s*$/.test(line)) { i++; continue; }
    let match;
    if ((match = FENCE.exec(line))) {
      const fence = match[1];
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence)) body.push(lines[i++]);
      i++;
      const code = element("code", {}, body.join("\n"));
      if (match[2]) code.dataset.language = match[2];
      parent.append(element("pre", {}, code));
      continue;
    }
    if (/^( {4}|\t)/.test(line)) {
      const body = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]) || /^\s*$/.test(lines[i]))) {
        body.push(lines[i++].replace(/^( {4}|\t)/, ""));
      }
      while (body.length && /^\s*$/.test(body[body.length - 1])) body.pop();
      parent.append(element("pre", {}, element("code", {}, body.join("\n"))));
      continue;
    }
    if ((match = HEADING.exec(line))) {
      const heading = element("h" + Math.min(match[1].length + 3, 6));
      inline(match[2] ?? "", heading, depth);
      parent.append(heading);
      i++;
      continue;
    }
    if (BREAK.test(line)) { parent.append(element("hr")); i++; continue; }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && (match = QUOTE.exec(lines[i]))) { body.push(match[1]); i++; }
      const quote = element("blockquote");
      blocks(body, quote, depth + 1);
      parent.append(quote);
      continue;
    }
    if ((match = ITEM.exec(line))) { i = list(lines, i, parent, depth); continue; }
    if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]) && lines[i + 1].includes("-")) {
      i = table(lines, i, parent, depth);
      continue;
    }
    const body = [];
    while (i < lines.length && !/^\s*$/.test(lines[i]) && !(body.length && startsBlock(lines[i]))) {
      body.push(lines[i++]);
    }
    const paragraph = element("p");
    inline(body.join("\n"), paragraph, depth);
    parent.append(paragraph);
  }
}

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || BREAK.test(line) || QUOTE.test(line) || ITEM.test(line);
}

/// A list from lines[start]: items at its indentation, each with the lines indented under it (a nested list, a
/// second paragraph). Returns the index of the first line after it.
function list(lines, start, parent, depth) {
  const first = ITEM.exec(lines[start]);
  const indent = first[1].length;
  const ordered = first[3] !== undefined;
  const list = ordered ? element("ol") : element("ul");
  if (ordered && first[3] !== "1") list.setAttribute("start", String(Number(first[3])));
  let i = start;
  while (i < lines.length) {
    const match = ITEM.exec(lines[i]);
    if (!match || match[1].length !== indent || (match[3] !== undefined) !== ordered) break;
    const body = [match[4] ?? ""];
    i++;
    while (i < lines.length) {
      const line = lines[i];
      if (/^\s*$/.test(line)) {
        const next = lines[i + 1];
        if (next === undefined || leading(next) <= indent) break;
        body.push("");
        i++;
        continue;
      }
      const item = ITEM.exec(line);
      if (item && item[1].length <= indent) break;
      if (!item && leading(line) <= indent && startsBlock(line)) break;
      body.push(line.slice(Math.min(leading(line), indent + 2)));
      i++;
    }
    const entry = element("li");
    if (body.length === 1 || !body.slice(1).some((line) => line.trim())) {
      inline(body[0], entry, depth);
    } else {
      blocks(body, entry, depth + 1);
      // A tight item's single paragraph reads as the item itself.
      if (entry.firstElementChild?.tagName === "P" && !body.includes("")) entry.firstElementChild.replaceWith(
        ...entry.firstElementChild.childNodes);
    }
    list.append(entry);
    while (i < lines.length && /^\s*$/.test(lines[i]) && ITEM.exec(lines[i + 1] ?? "")?.[1].length === indent) i++;
  }
  parent.append(list);
  return i;
}

function leading(line) { return line.length - line.trimStart().length; }

function cells(line) {
  const parts = [];
  let current = "";
  const text = line.trim().replace(/^\|/, "");
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\" && text[i + 1] === "|") { current += "|"; i++; continue; }
    if (text[i] === "|") { parts.push(current.trim()); current = ""; continue; }
    current += text[i];
  }
  if (current.trim() || !text.endsWith("|")) parts.push(current.trim());
  return parts;
}

function table(lines, start, parent, depth) {
  const head = cells(lines[start]);
  const align = cells(lines[start + 1]).map((rule) =>
    rule.startsWith(":") && rule.endsWith(":") ? "center" : rule.endsWith(":") ? "right" : rule.startsWith(":")
      ? "left" : null);
  const row = (values, cell) => element("tr", {}, ...head.map((_, index) => {
    // A class, not a style attribute: the page's Content-Security-Policy allows no inline style.
    const attributes = align[index] ? { class: "align-" + align[index] } : {};
    if (cell === "th") attributes.scope = "col";
    const node = element(cell, attributes);
    inline(values[index] ?? "", node, depth);
    return node;
  }));
  const body = element("tbody");
  let i = start + 2;
  while (i < lines.length && lines[i].includes("|") && !/^\s*$/.test(lines[i])) {
    body.append(row(cells(lines[i++]), "td"));
  }
  parent.append(element("div", { class: "table-wrap" },
    element("table", { class: "markdown-table" }, element("thead", {}, row(head, "th")), body)));
  return i;
}

/// Inline Markdown of `text` appended to `parent` as text nodes and elements.
function inline(text, parent, depth) {
  if (depth > MAX_DEPTH) { parent.append(text); return; }
  // Delimiters looked for and not found: not found later in the text either.
  const missing = new Set();
  let buffer = "";
  const flush = () => { if (buffer) { parent.append(buffer); buffer = ""; } };
  const find = (what, from) => {
    if (missing.has(what)) return -1;
    const at = text.indexOf(what, from);
    if (at < 0) missing.add(what);
    return at;
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length) {
      if (text[i + 1] === "\n") { flush(); parent.append(element("br")); i += 2; continue; }
      if (ESCAPABLE.test(text[i + 1])) { buffer += text[i + 1]; i += 2; continue; }
    }
    if (c === "\n") {
      if (/ {2,}$/.test(buffer)) { buffer = buffer.replace(/ +$/, ""); flush(); parent.append(element("br")); }
      else buffer += "\n";
      i++;
      continue;
    }
    if (c === "`") {
      let run = 1;
      while (text[i + run] === "`") run++;
      const ticks = "`".repeat(run);
      const end = find(ticks, i + run);
      if (end >= 0) {
        flush();
        parent.append(element("code", {}, text.slice(i + run, end).replace(/\n/g, " ")));
        i = end + run;
      } else {
        buffer += ticks;
        i += run;
      }
      continue;
    }
    if (c === "[" || (c === "!" && text[i + 1] === "[")) {
      const image = c === "!";
      const link = parseLink(text, image ? i + 1 : i, find);
      if (link) {
        flush();
        const url = safeURL(link.url);
        if (image) {
          const label = "image: " + (link.text || link.url);
          parent.append(url ? element("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank",
            class: "markdown-image" }, label) : element("span", { class: "markdown-image" }, label));
        } else {
          const anchor = url
            ? element("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank" })
            : element("span", { class: "unsafe-link", title: "not a web address: " + link.url });
          if (link.title && url) anchor.title = link.title;
          inline(link.text, anchor, depth + 1);
          parent.append(anchor);
        }
        i = link.end;
        continue;
      }
    }
    if (c === "<") {
      const auto = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i.exec(text.slice(i, i + 2048));
      if (auto) {
        flush();
        parent.append(element("a", { href: auto[1], rel: "noopener noreferrer nofollow", target: "_blank" }, auto[1]));
        i += auto[0].length;
        continue;
      }
    }
    if (c === "*" || c === "_" || (c === "~" && text[i + 1] === "~")) {
      let run = 1;
      while (text[i + run] === c && run < 3) run++;
      if (c === "~") run = 2;
      const delimiter = c.repeat(Math.min(run, 2));
      const opensWord = i + delimiter.length < text.length && !/\s/.test(text[i + delimiter.length]);
      // An underscore inside a word (snake_case) is text.
      const inWord = c === "_" && i > 0 && /\w/.test(text[i - 1]);
      if (opensWord && !inWord) {
        const end = find(delimiter, i + delimiter.length + 1);
        // A closer follows text, and an underscore one ends a word (window.__name__x is text).
        const closes = end >= 0 && !/\s/.test(text[end - 1]) &&
          !(c === "_" && /\w/.test(text[end + delimiter.length] ?? ""));
        if (closes) {
          flush();
          const node = element(c === "~" ? "del" : delimiter.length === 2 ? "strong" : "em");
          inline(text.slice(i + delimiter.length, end), node, depth + 1);
          parent.append(node);
          i = end + delimiter.length;
          continue;
        }
      }
      buffer += delimiter;
      i += delimiter.length;
      continue;
    }
    buffer += c;
    i++;
  }
  flush();
}

/// `[text](url "title")` at text[start]: {text, url, title, end} or null.
function parseLink(text, start, find) {
  const close = find("](", start + 1);
  if (close < 0) return null;
  const label = text.slice(start + 1, close);
  if (label.includes("\n\n")) return null;
  const end = find(")", close + 2);
  // An address is at most 2,048 characters: a long stretch of brackets without one is text, read once.
  if (end < 0 || end - close > 2048) return null;
  const target = /^\s*<?([^\s<>]*)>?(?:\s+["'(](.*)["')])?\s*$/.exec(text.slice(close + 2, end));
  if (!target) return null;
  return { text: label, url: target[1], title: target[2] ?? null, end: end + 1 };
}

// HTML artifacts: parsed by the browser into an inert document (DOMParser runs no script and loads nothing), then
// copied element by element into the page, keeping only the elements of a document's text and their harmless
// attributes. Script, style, frames, forms, media and SVG are dropped with what they hold; any other element not
// kept (a div with handlers, a custom element) gives way to its children. Links keep http, https and mailto
// addresses only; images become links, as in Markdown.
const KEPT = new Set([
  "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre",
  "code", "kbd", "samp", "em", "strong", "b", "i", "u", "s", "del", "ins", "sub", "sup", "small", "mark", "abbr",
  "q", "cite", "span", "div", "section", "article", "header", "footer", "table", "thead", "tbody", "tfoot", "tr",
  "th", "td", "caption", "a", "details", "summary", "figure", "figcaption",
]);
const DROPPED = new Set([
  "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "template", "noscript", "svg",
  "math", "form", "input", "button", "select", "textarea", "link", "meta", "base", "title", "head", "audio", "video",
  "canvas", "portal", "dialog",
]);

/// The HTML `text` as a DocumentFragment of kept elements and text.
export function renderHTML(text) {
  // Parsed in a template: its content belongs to an inert document, where nothing runs or loads. Event-handler
  // attributes are renamed first, only so that Chrome does not report each one as a violation of the page's
  // Content-Security-Policy while parsing (it would not run them there; and they are not copied).
  const parsed = document.createElement("template");
  parsed.innerHTML = String(text).replace(/<[a-zA-Z][^>]*>/g,
    (tag) => tag.replace(/([\s/"'])(on[a-z]+|style)(\s*=)/gi, "$1data-dropped-$2$3"));
  const fragment = document.createDocumentFragment();
  copyChildren(parsed.content, fragment, 0);
  return fragment;
}

function copyChildren(from, to, depth) {
  for (const node of from.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) { to.append(node.data); continue; }
    if (node.nodeType !== Node.ELEMENT_NODE) continue;
    const name = node.localName;
    if (DROPPED.has(name) || node.namespaceURI !== "http://www.w3.org/1999/xhtml") continue;
    if (depth > MAX_DEPTH * 4) { to.append(node.textContent); continue; }
    if (name === "img") {
      const url = safeURL(node.getAttribute("src") ?? "");
      const label = "image: " + (node.getAttribute("alt") || node.getAttribute("src") || "");
      to.append(url ? element("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank",
        class: "markdown-image" }, label) : element("span", { class: "markdown-image" }, label));
      continue;
    }
    if (!KEPT.has(name)) { copyChildren(node, to, depth + 1); continue; }
    // Headings three levels down, as in Markdown.
    // A link to anything but a web or mail address is its text.
    const heading = /^h([1-6])$/.exec(name);
    const url = name === "a" ? safeURL(node.getAttribute("href") ?? "") : null;
    const copy = document.createElement(
      heading ? "h" + Math.min(Number(heading[1]) + 3, 6) : name === "a" && !url ? "span" : name);
    if (url) {
      copy.setAttribute("href", url);
      copy.setAttribute("rel", "noopener noreferrer nofollow");
      copy.setAttribute("target", "_blank");
    }
    for (const attribute of ["title", "alt", "abbr", "datetime"]) {
      if (node.hasAttribute(attribute)) copy.setAttribute(attribute, node.getAttribute(attribute));
    }
    for (const attribute of ["colspan", "rowspan", "start"]) {
      const value = node.getAttribute(attribute);
      if (value !== null && /^\d{1,4}$/.test(value)) copy.setAttribute(attribute, value);
    }
    if (name === "details" && node.hasAttribute("open")) copy.setAttribute("open", "");
    copyChildren(node, copy, depth + 1);
    to.append(copy);
  }
}
