// A strict reader of the Prometheus text exposition format (version 0.0.4) — the subset prom-client
// writes: `# HELP` / `# TYPE` lines, then samples `name{label="value",…} number`. `coffer doctor` reads
// a daemon's /v1/metrics with it, and the tests use it to hold the scrape to the format: any line it
// does not understand is an error, never skipped.
import { CofferError } from '../errors.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: number): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text))
    throw new CofferError('EINVAL', `metrics line ${line}: '${text.slice(0, 40)}' is not a number`);
  return Number(text);
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  const fail = (why: string): never => {
    throw new CofferError('EINVAL', `metrics line ${line}: ${why}`);
  };
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) fail('label without a value');
    const name = text.slice(i, eq);
    if (!LABEL.test(name)) fail(`bad label name '${name.slice(0, 40)}'`);
    if (text[eq + 1] !== '"') fail('label value not quoted');
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else fail('bad escape in a label value');
      } else value += text[j];
    }
    if (j >= text.length) fail('unterminated label value');
    if (name in labels) fail(`label '${name}' given twice`);
    labels[name] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ',') fail('labels must be separated by commas');
      i++;
    }
  }
  return labels;
}

/** The families of a scrape, in order. Throws EINVAL on the first line that does not conform. */
export function parseMetricsText(text: string): MetricFamily[] {
  const families = new Map<string, MetricFamily>();
  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  /** A histogram's _bucket/_sum/_count samples and a counter's own name belong to the declared family. */
  const owner = (sample: string): MetricFamily | undefined => {
    if (families.has(sample)) return families.get(sample);
    const base = sample.replace(/_(bucket|sum|count)$/, '');
    const f = families.get(base);
    return f && (f.type === 'histogram' || f.type === 'summary') ? f : undefined;
  };
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) throw new CofferError('EINVAL', `metrics line ${line}: unknown comment`);
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new CofferError('EINVAL', `metrics line ${line}: bad metric name`);
      const f = family(name);
      if (kind === 'HELP') f.help = rest;
      else {
        if (!TYPES.has(rest)) throw new CofferError('EINVAL', `metrics line ${line}: unknown type '${rest}'`);
        if (f.samples.length > 0)
          throw new CofferError('EINVAL', `metrics line ${line}: TYPE after samples of ${name}`);
        f.type = rest as MetricFamily['type'];
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(raw);
    if (!m) throw new CofferError('EINVAL', `metrics line ${line}: not a sample`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    const f = owner(name);
    if (!f) throw new CofferError('EINVAL', `metrics line ${line}: sample ${name} has no TYPE before it`);
    f.samples.push({ name, labels: parseLabels(labelText ?? '', line), value: parseValue(valueText, line) });
  });
  return [...families.values()];
}

/** The sum of the samples named `name` whose labels include `labels` (undefined when there are none). */
export function sampleValue(
  families: MetricFamily[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  let total: number | undefined;
  for (const f of families) {
    for (const sample of f.samples) {
      if (sample.name !== name) continue;
      if (!Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) continue;
      total = (total ?? 0) + sample.value;
    }
  }
  return total;
}
