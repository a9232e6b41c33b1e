// The capacity scenario's figures as the table `npm run bench` prints, with what bounded each row.
import { figure, markdownTable, type ScenarioResult } from '../report.js';

/**
 * The capacity figures as a table: best run, median and range; the CPU each group used (% of one core;
 * `others` is what the rest of the machine used meanwhile: the machine's busy time less the run's own
 * processes, up to cores × 100 in all); and each group's CPU per task.
 */
export function capacityTable(result: Omit<ScenarioResult, 'seconds'>, cores: number): string {
  const header = ['measurement', 'best', 'median', 'range', 'Redis %', 'APIs %', 'workers %', 'bench %', `others % (of ${cores * 100})`,
    'Redis µs/task', 'API µs/task', 'worker µs/task', 'bound'];
  const whole = (value: number | null | undefined): string => (value === null || value === undefined ? '—' : String(Math.round(value)));
  const rows = result.metrics.map((m) => {
    const pct = result.cpu_percent?.[m.metric];
    const us = result.cpu_us_per_task?.[m.metric];
    return [
      `${m.metric} (${m.unit})`,
      figure(m.best),
      figure(m.project),
      m.spread ? `${figure(m.spread[0])}–${figure(m.spread[1])}` : '—',
      whole(pct?.redis),
      whole(pct?.apis),
      whole(pct?.workers),
      whole(pct?.bench),
      whole(pct ? others(pct) : null),
      whole(us?.redis),
      whole(us?.apis),
      whole(us?.workers),
      pct ? bound(m.metric, pct, cores) : '—',
    ];
  });
  return markdownTable(header, rows);
}

/** CPU the rest of the machine used during a measurement (% of one core): all busy time less the run's own. */
function others(pct: Record<string, number | null>): number | null {
  if (pct.machine === null || pct.machine === undefined) return null;
  const own = (['redis', 'apis', 'workers', 'bench'] as const).reduce((sum, group) => sum + (pct[group] ?? 0), 0);
  return Math.max(0, pct.machine - own);
}

/**
 * What limited a measurement: Redis's one thread, every core of the machine, or the API or worker
 * processes' own event loops (each at a core or more: a Node process also runs GC threads).
 */
function bound(name: string, pct: Record<string, number | null>, cores: number): string {
  const count = (word: string): number => Number(new RegExp(`(\\d+) ${word}`).exec(name)?.[1] ?? 0);
  if ((pct.redis ?? 0) >= 90) return 'Redis (one core)';
  if ((pct.machine ?? 0) >= cores * 100 * 0.9) return 'machine CPU';
  if (count('API') && (pct.apis ?? 0) >= 90 * count('API')) return 'API processes';
  if (count('worker') && (pct.workers ?? 0) >= 90 * count('worker')) return 'worker processes';
  return '—';
}
