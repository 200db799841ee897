// Relay's web UI: Prometheus' text exposition format (version 0.0.4), as GET /metrics serves it, read strictly: a
// line that is not a comment, a blank line or a well-formed sample is an error that names the line. And what the
// overview needs of the figures: sums over labels, histograms' buckets, a quantile's bucket.

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
// What a series of a histogram or a summary adds to its family's name.
const SUFFIXES = {
  histogram: ["_bucket", "_sum", "_count", "_created"], summary: ["_sum", "_count", "_created"], counter: ["_total"],
};

export class MetricsSyntaxError extends Error {
  constructor(line, message) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

/// A sample's value as the format writes it: a decimal number, NaN, or an infinity (Go's ParseFloat, which
/// Prometheus uses, also takes "Inf", "infinity", any case). Anything else is null.
export function parseValue(text) {
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number(text);
  if (/^nan$/i.test(text)) return NaN;
  const infinity = /^([+-]?)(inf|infinity)$/i.exec(text);
  if (infinity) return infinity[1] === "-" ? -Infinity : Infinity;
  return null;
}

/// Parses the whole text: {families: Map name → {name, type, help, samples: [{name, labels, value, timestamp}]}}.
/// A sample belongs to the family its `# TYPE` line declared (`x_bucket`, `x_sum`, `x_count` to histogram `x`);
/// a sample without one to an untyped family of its own name. Labels are a plain object, their escapes undone.
export function parseMetrics(text) {
  const families = new Map();
  const familyOf = (name) => {
    let family = families.get(name);
    if (!family) {
      family = { name, type: "untyped", help: null, samples: [], declared: false };
      families.set(name, family);
    }
    return family;
  };
  const lines = text.split("\n");
  // The text ends with a line end; a last line without one is taken all the same.
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((raw, index) => {
    const number = index + 1;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return;
    if (/^\s*#/.test(line)) { comment(line, number, familyOf); return; }
    const sample = parseSample(line, number);
    familyOf(owner(sample.name, families)).samples.push(sample);
  });
  for (const family of families.values()) delete family.declared;
  return { families };
}

/// The family a sample's name belongs to: itself, or a declared histogram or summary it is a series of.
function owner(name, families) {
  if (families.has(name)) return name;
  for (const [type, suffixes] of Object.entries(SUFFIXES)) {
    for (const suffix of suffixes) {
      if (!name.endsWith(suffix)) continue;
      const base = name.slice(0, -suffix.length);
      if (families.get(base)?.type === type) return base;
    }
  }
  return name;
}

function comment(line, number, familyOf) {
  const match = /^\s*#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
  if (!match) return; // any other comment
  const [, keyword, name, rest = ""] = match;
  if (METRIC_NAME.exec(name)?.[0] !== name) throw new MetricsSyntaxError(number, `"${name}" is not a metric name`);
  const family = familyOf(name);
  if (keyword === "HELP") {
    family.help = rest.replace(/\\(.)/g, (all, character) => ({ n: "\n", "\\": "\\" })[character] ?? all);
    return;
  }
  const type = rest.trim();
  if (!TYPES.has(type)) throw new MetricsSyntaxError(number, `unknown type "${type}" for ${name}`);
  if (family.declared) throw new MetricsSyntaxError(number, `a second TYPE line for ${name}`);
  if (family.samples.length > 0) throw new MetricsSyntaxError(number, `the TYPE of ${name} comes after its samples`);
  family.type = type;
  family.declared = true;
}

/// `name{label="value",…} value [timestamp]`.
function parseSample(line, number) {
  let rest = line.replace(/^[ \t]+/, "");
  const name = METRIC_NAME.exec(rest)?.[0];
  if (!name) throw new MetricsSyntaxError(number, `expected a metric name, found "${rest.slice(0, 40)}"`);
  rest = rest.slice(name.length);
  const labels = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    for (;;) {
      rest = rest.replace(/^[ \t]+/, "");
      if (rest.startsWith("}")) { rest = rest.slice(1); break; }
      const label = LABEL_NAME.exec(rest)?.[0];
      if (!label) throw new MetricsSyntaxError(number, `expected a label name or "}" in ${name}'s labels`);
      if (Object.hasOwn(labels, label)) throw new MetricsSyntaxError(number, `label ${label} twice in ${name}`);
      rest = rest.slice(label.length).replace(/^[ \t]+/, "");
      if (!rest.startsWith("=\"")) throw new MetricsSyntaxError(number, `expected ="…" after label ${label}`);
      rest = rest.slice(2);
      let value = "";
      for (;;) {
        if (rest === "") throw new MetricsSyntaxError(number, `label ${label}'s value has no closing quote`);
        const character = rest[0];
        if (character === "\"") { rest = rest.slice(1); break; }
        if (character === "\\") {
          const escaped = { "\\": "\\", "\"": "\"", n: "\n" }[rest[1]];
          if (escaped === undefined) {
            throw new MetricsSyntaxError(number, `label ${label}: unknown escape "\\${rest[1] ?? ""}"`);
          }
          value += escaped;
          rest = rest.slice(2);
          continue;
        }
        value += character;
        rest = rest.slice(1);
      }
      labels[label] = value;
      rest = rest.replace(/^[ \t]+/, "");
      if (rest.startsWith(",")) { rest = rest.slice(1); continue; }
      if (!rest.startsWith("}")) throw new MetricsSyntaxError(number, `expected "," or "}" after label ${label}`);
    }
  }
  const parts = rest.trim().split(/[ \t]+/);
  if (!/^[ \t]/.test(rest) || parts.length < 1 || parts.length > 2 || parts[0] === "") {
    throw new MetricsSyntaxError(number, `expected a value (and perhaps a timestamp) after ${name}`);
  }
  const value = parseValue(parts[0]);
  if (value === null) throw new MetricsSyntaxError(number, `"${parts[0]}" is not a value`);
  let timestamp = null;
  if (parts.length === 2) {
    if (!/^-?\d+$/.test(parts[1])) throw new MetricsSyntaxError(number, `"${parts[1]}" is not a timestamp`);
    timestamp = Number(parts[1]);
  }
  return { name, labels, value, timestamp };
}

// ---------------------------------------------------------------------------------------------------------------
// Figures.

/// The samples of `name` (a family's own samples, or its series `name_sum` and so on), or none.
export function samples(parsed, family, name = family) {
  return (parsed.families.get(family)?.samples ?? []).filter((sample) => sample.name === name);
}

/// The sum of the samples of `name` grouped by the value of `label` (null: one group, key ""). Samples that match
/// `where` (labels → bool) only.
export function sumBy(parsed, name, label = null, where = () => true) {
  const sums = new Map();
  for (const sample of samples(parsed, name)) {
    if (!where(sample.labels)) continue;
    const key = label === null ? "" : sample.labels[label] ?? "";
    sums.set(key, (sums.get(key) ?? 0) + sample.value);
  }
  return sums;
}

/// A histogram's series grouped by the value of `label` (its other labels' series added up, which is exact for
/// counts of the same bucket bounds): Map key → {buckets: [{le, count}] (cumulative, by bound), count, sum}.
export function histogramsBy(parsed, name, label) {
  const groups = new Map();
  const group = (labels) => {
    const key = labels[label] ?? "";
    if (!groups.has(key)) groups.set(key, { bounds: new Map(), count: 0, sum: 0 });
    return groups.get(key);
  };
  for (const sample of samples(parsed, name, name + "_bucket")) {
    const le = parseValue(sample.labels.le ?? "");
    if (le === null || Number.isNaN(le)) continue;
    const entry = group(sample.labels);
    entry.bounds.set(le, (entry.bounds.get(le) ?? 0) + sample.value);
  }
  for (const sample of samples(parsed, name, name + "_count")) group(sample.labels).count += sample.value;
  for (const sample of samples(parsed, name, name + "_sum")) group(sample.labels).sum += sample.value;
  const result = new Map();
  for (const [key, entry] of groups) {
    const buckets = [...entry.bounds].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
    result.set(key, { buckets, count: entry.count, sum: entry.sum });
  }
  return result;
}

/// The bucket a quantile falls in: the upper bound of the first bucket whose cumulative count reaches q × the
/// total (so the quantile is at most that bound, and above the bucket before), or null with no observation.
/// Infinity when it is past the last finite bound.
export function quantileBound(buckets, q) {
  const total = buckets.at(-1)?.count ?? 0;
  if (!(total > 0)) return null;
  const rank = q * total;
  for (const bucket of buckets) if (bucket.count >= rank) return bucket.le;
  return Infinity;
}
