// Results: figures per metric, their ratio against the baseline and the target, the table printed at the
// end and the JSON written to bench/results.

export type Op = '>=' | '<=';

/** A target on the ratio (project ÷ baseline) or, where there is no baseline, on the project's figure. */
export interface Target {
  on: 'ratio' | 'project';
  op: Op;
  value: number;
}

export interface Metric {
  metric: string;
  unit: string;
  /** Median over the runs (the figure of each run is in `runs`). */
  project: number;
  baseline: number | null;
  /** project ÷ baseline (null without a baseline, or when it is 0). */
  ratio: number | null;
  target: Target | null;
  met: boolean | null;
  runs: { project: number[]; baseline: number[] };
  /** capacity figures: the best run (the highest rate, the lowest size) and the lowest and highest run. */
  best?: number;
  spread?: [number, number];
}

export interface ScenarioResult {
  scenario: string;
  /** What each side ran and how the figures were taken. */
  method: { project: string; baseline: string };
  settings: Record<string, unknown>;
  metrics: Metric[];
  /**
   * Where the time went: CPU microseconds per task of each process involved (median over the runs; Linux
   * /proc, 10 ms ticks; redis only when it runs on this machine; bench = this process, the load generator).
   */
  cpu_us_per_task?: Record<string, Record<string, number | null>>;
  /** capacity: CPU used while each metric was measured, % of one core, by process group (median over the runs). */
  cpu_percent?: Record<string, Record<string, number | null>>;
  /** capacity: the highest resident memory (VmHWM, MiB) any API or worker process reached. */
  peak_rss_mib?: Record<string, number | null>;
  /** Figures behind the metrics that fit no column (e.g. created vs completed rates of each run). */
  details?: Record<string, unknown>;
  /** Every target of the scenario met (null: it has none). */
  met: boolean | null;
  seconds: number;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const holds = (value: number, { op, value: limit }: Target): boolean => (op === '>=' ? value >= limit : value <= limit);

/** A metric from each side's runs: medians, ratio and whether the target holds. */
export function metric(
  name: string,
  unit: string,
  runs: { project: number[]; baseline?: number[] },
  target: Target | null,
): Metric {
  const project = median(runs.project);
  const baseline = runs.baseline?.length ? median(runs.baseline) : null;
  // A baseline of 0 (a latency below the timestamps' 1 ms resolution) gives no ratio.
  const ratio = baseline === null || baseline === 0 ? null : project / baseline;
  const judged = target === null ? null : target.on === 'ratio' ? ratio : project;
  return {
    metric: name,
    unit,
    project,
    baseline,
    ratio,
    target,
    met: target === null || judged === null ? null : holds(judged, target),
    runs: { project: runs.project, baseline: runs.baseline ?? [] },
  };
}

export function scenarioMet(metrics: Metric[]): boolean | null {
  const judged = metrics.filter((m) => m.met !== null);
  return judged.length === 0 ? null : judged.every((m) => m.met);
}

export function figure(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function targetText(target: Target | null, unit: string): string {
  if (!target) return '—';
  return target.on === 'ratio' ? `ratio ${target.op} ${target.value}` : `${target.op} ${target.value} ${unit}`;
}

/** The results as a Markdown table (it reads fine in a terminal too). */
export function table(results: ScenarioResult[]): string {
  const header = ['scenario', 'metric', 'project', 'baseline', 'ratio', 'target', 'met?'];
  const rows = results.flatMap((result) =>
    result.metrics.map((m) => [
      result.scenario,
      `${m.metric} (${m.unit})`,
      figure(m.project),
      figure(m.baseline),
      m.ratio === null ? '—' : m.ratio.toFixed(2),
      targetText(m.target, m.unit),
      m.met === null ? '—' : m.met ? 'yes' : 'NO',
    ]),
  );
  return markdownTable(header, rows);
}

/** Rows under a header as a Markdown table, columns padded to their widest cell. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
