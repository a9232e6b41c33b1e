// The soak run's conclusions: did memory stay flat under steady load (the last third of the load's
// samples against the first third), and did the key count come back to its baseline once retention
// had removed every finished task.
import { round, type Sample } from './sampler.js';

/** Growth allowed before a series is called not flat: relative, or absolute for small figures. */
export const FLAT_RELATIVE = 0.2;
const FLAT_ABSOLUTE_MB: Record<string, number> = { rss: 10, redis: 2 };

export interface SeriesVerdict {
  series: string;
  first_third_mean: number;
  last_third_mean: number;
  growth_pct: number;
  flat: boolean;
}

const mean = (values: number[]): number => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);

export function flatness(samples: Sample[]): SeriesVerdict[] {
  const load = samples.filter((s) => s.phase === 'load');
  const third = Math.max(1, Math.floor(load.length / 3));
  const first = load.slice(0, third);
  const last = load.slice(-third);
  const series: Array<[string, 'rss' | 'redis', (s: Sample) => number | null]> = [
    ...Object.keys(load[0]?.rss_mb ?? {}).map((name): [string, 'rss', (s: Sample) => number | null] => [`${name} rss_mb`, 'rss', (s) => s.rss_mb[name] ?? null]),
    ['redis used_mb', 'redis', (s) => s.redis_used_mb],
  ];
  return series.map(([name, kind, read]) => {
    const a = mean(first.map(read).filter((v): v is number => v !== null));
    const b = mean(last.map(read).filter((v): v is number => v !== null));
    const growth = a > 0 ? (b - a) / a : 0;
    return {
      series: name,
      first_third_mean: round(a, 2),
      last_third_mean: round(b, 2),
      growth_pct: round(growth * 100),
      flat: growth <= FLAT_RELATIVE || b - a <= FLAT_ABSOLUTE_MB[kind]!,
    };
  });
}

export interface KeyVerdict {
  baseline: number;
  end: number;
  /** Keys there at the end and not at the baseline, prefix cut off. */
  added: string[];
  /** Of those, keys that belong to one task (its id in the name): what retention must remove. */
  task_keys: number;
  returned: boolean;
}

const TASK_ID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/**
 * Back to baseline when no key of any single task is left: what remains beyond the baseline is the
 * engine's bounded bookkeeping (counters, the capped event stream, throughput buckets that expire).
 */
export function keysReturned(baseline: Set<string>, end: Set<string>, prefix: string): KeyVerdict {
  const added = [...end].filter((key) => !baseline.has(key)).map((key) => key.replace(`${prefix}:`, '')).sort();
  const taskKeys = added.filter((key) => TASK_ID.test(key)).length;
  return { baseline: baseline.size, end: end.size, added, task_keys: taskKeys, returned: taskKeys === 0 };
}

/** The table printed at the end: one row per sample. */
export function sampleTable(samples: Sample[]): string {
  const names = Object.keys(samples[0]?.rss_mb ?? {});
  const header = ['t_s', 'phase', ...names.map((n) => `${n} MB`), 'redis MB', 'dbsize', 'events', 'retained', 'created', 'finished'];
  const rows = samples.map((s) => [
    s.t_s, s.phase, ...names.map((n) => s.rss_mb[n] ?? '-'), s.redis_used_mb, s.dbsize, s.events_len, s.retained_tasks, s.lifetime.created, s.lifetime.finished,
  ].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
