// What every scenario gets, and the helpers several share: the small task both sides queue, filling a
// side's queue, waiting for its completed count, running the two sides in alternating order.
import type { Options } from '../options.js';
import { jobData, jobOptions } from '../baselines/job.js';
import type { BaselineSide, ProjectSide, RedisHandle, Side } from '../env.js';
import { cpuMeter, waitFor } from '../env.js';
import { median } from '../report.js';
import { bounded, httpOk } from '../load.js';

export interface Context {
  opts: Options;
  redis: RedisHandle;
  project: ProjectSide;
  baseline: BaselineSide;
  log(message: string): void;
}

/** The small task of every scenario: a `custom` echo with a tiny payload. */
export const SMALL_PAYLOAD = { greeting: 'hi' };
export const SMALL_TASK = { type: 'custom', payload: SMALL_PAYLOAD };

export const batchBody = (size: number, task: object = SMALL_TASK): string => JSON.stringify({ tasks: Array.from({ length: size }, () => task) });

/** The baseline's jobs for `count` small tasks, as addBulk takes them. */
export const bulkJobs = (count: number) =>
  Array.from({ length: count }, () => ({ name: 'custom', data: jobData(SMALL_PAYLOAD), opts: jobOptions() }));

/**
 * Adds `count` small tasks: through POST /tasks/batch for the project, addBulk for the baseline. The
 * project's tasks can be another body (`task`, e.g. a larger payload), in batches kept under 512 KiB.
 */
export async function fill(ctx: Context, side: Side, count: number, inFlight = 2, task: object = SMALL_TASK): Promise<void> {
  const size = Math.max(1, Math.min(ctx.opts.batchSize, Math.floor((512 * 1024) / JSON.stringify(task).length)));
  const batches = Math.ceil(count / size);
  const sizeOf = (i: number): number => Math.min(size, count - i * size);
  if (side.name === 'project') {
    const bodies = new Map<number, string>();
    await bounded(batches, inFlight, async (i) => {
      const n = sizeOf(i);
      if (!bodies.has(n)) bodies.set(n, batchBody(n, task));
      await httpOk(side.apiUrl, 'POST', '/tasks/batch', bodies.get(n));
    });
  } else {
    await bounded(batches, inFlight, async (i) => {
      await side.queue.addBulk(bulkJobs(sizeOf(i)));
    });
  }
}

/** Waits until the side's queue holds `count` completed jobs (polled every `intervalMs`). */
export async function waitCompleted(side: Side, count: number, intervalMs = 20): Promise<void> {
  await waitFor(async () => (await side.completedCount()) >= count, {
    // Generous: a slow engine should give a slow figure, not a timeout.
    timeoutMs: 60_000 + count * 5,
    intervalMs,
    what: `${count} completed ${side.name} tasks`,
  });
}

/**
 * Runs `run` for each side `repeats` times, alternating which goes first (project first in even rounds),
 * so a drift in the machine's speed weighs on both.
 */
export async function alternate<T>(ctx: Context, run: (side: Side) => Promise<T>): Promise<{ project: T[]; baseline: T[] }> {
  const out = { project: [] as T[], baseline: [] as T[] };
  for (let round = 0; round < ctx.opts.repeats; round++) {
    const order: Side[] = round % 2 === 0 ? [ctx.project, ctx.baseline] : [ctx.baseline, ctx.project];
    for (const side of order) out[side.name].push(await run(side));
  }
  return out;
}

/** Microseconds of CPU per task, by process. */
export type CpuPerTask = Record<string, number | null>;

/** Starts measuring the CPU the named processes spend; `perTask(n)` divides what they used since by n tasks. */
export function cpuPerTask(pids: Record<string, number | 'self' | undefined>): { perTask(tasks: number): CpuPerTask } {
  const meter = cpuMeter(pids);
  return {
    perTask: (tasks) =>
      Object.fromEntries(Object.entries(meter.read()).map(([name, ms]) => [name, ms === null ? null : Math.round((ms * 1000) / tasks)])),
  };
}

/** Each side's median CPU per task over its runs, by process. */
export function medianCpu(runs: { project: Array<{ cpu: CpuPerTask }>; baseline: Array<{ cpu: CpuPerTask }> }): Record<string, CpuPerTask> {
  const side = (list: Array<{ cpu: CpuPerTask }>): CpuPerTask => {
    const names = Object.keys(list[0]?.cpu ?? {});
    return Object.fromEntries(
      names.map((name) => {
        const values = list.map((run) => run.cpu[name]).filter((v): v is number => typeof v === 'number');
        return [name, values.length ? median(values) : null];
      }),
    );
  };
  return { project: side(runs.project), baseline: side(runs.baseline) };
}
