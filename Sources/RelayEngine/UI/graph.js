// Relay's web UI: a workflow's graph as SVG, one node per step and an arrow per `needs`, placed by the layout Relay
// computed (`layout` of GET /runs/{id} and GET /workflows/{name}: a layer and a position per step); the browser
// only turns layers and positions into coordinates. Used by a run's page (nodes coloured by status) and a
// workflow's page.

import { STATUS_MARKS, STATUS_WORDS, svg } from "./common.js";

export const NODE = { width: 176, height: 58, gapX: 32, gapY: 46, margin: 12 };

/// The SVG of `graph` ([{step, needs}]) placed by `layout`. `statusOf(step)` the status a node shows (a colour, a
/// symbol and a word), or null for a node without one (a workflow's page); `attemptOf(step)` its latest attempt
/// (items done, tries, a child run to link); `detailOf(step)` the second line when there is no status; the node
/// `selected` is marked; `onSelect(step)`, if given, makes nodes buttons (click, Enter, Space). Returns the drawing
/// and the statuses it used (for a legend).
export function graphDrawing({
  graph, layout, label, statusOf = () => null, attemptOf = () => null, detailOf = () => "", selected = null,
  onSelect = null,
}) {
  const { layers, width, nodes } = layout;
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
    role: "group", "aria-label": `${label}: ${nodes.length} steps`,
  });
  drawing.append(svg("defs", {}, svg("marker", {
    id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7",
    orient: "auto-start-reverse",
  }, svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }))));
  const edges = svg("g", { class: "edges" });
  for (const step of graph) {
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
    const status = statusOf(node.step);
    if (status) used.add(status);
    drawing.append(graphNode(node.step, status, attemptOf(node.step), place.get(node.step), {
      selected: selected === node.step, onSelect, detail: detailOf(node.step),
    }));
  }
  return { drawing, statuses: [...used] };
}

function graphNode(step, status, attempt, { x, y }, { selected, onSelect, detail: fallback }) {
  const label = step.length > 22 ? step.slice(0, 21) + "…" : step;
  let detail = status ? `${STATUS_MARKS[status]} ${STATUS_WORDS[status] ?? status}`
    : fallback.length > 24 ? fallback.slice(0, 23) + "…" : fallback;
  if (attempt?.items_total !== undefined) detail += ` · ${attempt.items_done}/${attempt.items_total} items`;
  if (attempt && attempt.attempt > 1) detail += ` · try ${attempt.attempt}`;
  const word = status ? `: ${STATUS_WORDS[status] ?? status}` : "";
  const attributes = {
    class: "node" + (status ? ` status-${status}` : "") + (selected ? " selected" : ""),
    "data-step": step, transform: `translate(${x} ${y})`,
  };
  if (status) attributes["data-status"] = status;
  if (onSelect) {
    Object.assign(attributes, {
      tabindex: "0", role: "button", "aria-label": `Step ${step}${word}`, "aria-pressed": String(selected),
    });
  }
  const group = svg("g", attributes, svg("title", {}, `${step}${word}`),
    svg("rect", { width: NODE.width, height: NODE.height, rx: "8", class: "node-box" }),
    svg("text", { x: "12", y: "23", class: "node-name" }, label),
    svg("text", { x: "12", y: "44", class: "node-status" }, detail));
  if (attempt?.items_total !== undefined) {
    group.dataset.items = `${attempt.items_done}/${attempt.items_total}`;
  }
  if (onSelect) {
    group.addEventListener("click", () => onSelect(step));
    group.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); onSelect(step); }
    });
  }
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
