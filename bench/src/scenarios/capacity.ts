// capacity: the engine's own figures for a capacity plan (no baseline), with 1..n API and worker processes
// on one Redis, and where the CPU went while they were taken:
//   ingest-single  POST /tasks at `connections` spread over the API processes, no worker
//   ingest-batch   POST /tasks/batch of `batchSize`, `batchConnections` in flight, no worker
//   process        `tasks` × workers queued tasks drained by that many worker processes (concurrency each)
//   end-to-end     batches through the APIs while the workers run; the load holds off while more than
//                  `e2eBacklog` tasks wait, so what is created is what gets done: the sustained rate
//   memory         Redis bytes per retained completed task, weighed after the process runs; once more
//                  with a 1 KiB string in the payload (the echo result repeats it), for the per-byte cost
// Every configuration runs `repeats` times, the configurations taking turns within each round so a drift
// in a shared machine's speed weighs on all of them. CPU is read per process group (capacity-meter.ts);
// capacity-table.ts prints the result.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Child } from '../env.js';
import { memoryUnder, peakRssMiB } from '../env.js';
import { cannon, httpOk, performance } from '../load.js';
import { median, metric, type Metric, type ScenarioResult } from '../report.js';
import { GROUPS, startMeter, type ByGroup, type Sample } from './capacity-meter.js';
import { batchBody, fill, SMALL_PAYLOAD, SMALL_TASK, waitCompleted, type Context } from './common.js';

/** One configuration's runs, gathered over the rounds. */
class Figures {
  private readonly runs = new Map<string, { unit: string; samples: Sample[]; lowerIsBetter: boolean }>();

  add(name: string, unit: string, sample: Sample, lowerIsBetter = false): void {
    const entry = this.runs.get(name) ?? { unit, samples: [], lowerIsBetter };
    entry.samples.push(sample);
    this.runs.set(name, entry);
  }

  samples(name: string): Sample[] {
    return this.runs.get(name)?.samples ?? [];
  }

  names(): string[] {
    return [...this.runs.keys()];
  }

  metrics(): Metric[] {
    return [...this.runs.entries()].map(([name, { unit, samples, lowerIsBetter }]) => {
      const values = samples.map((s) => s.perSecond);
      const [low, high] = [Math.min(...values), Math.max(...values)];
      return { ...metric(name, unit, { project: values }, null), best: lowerIsBetter ? low : high, spread: [low, high] };
    });
  }

  /** Median over the runs of each group's figure, per metric. */
  byGroup(pick: (sample: Sample) => ByGroup): Record<string, ByGroup> {
    const out: Record<string, ByGroup> = {};
    for (const [name, { samples }] of this.runs) {
      if (!samples.some((s) => Object.values(pick(s)).some((v) => v !== null))) continue;
      const groups = {} as ByGroup;
      for (const group of GROUPS) {
        const values = samples.map((s) => pick(s)[group]).filter((v): v is number => typeof v === 'number');
        groups[group] = values.length ? median(values) : null;
      }
      out[name] = groups;
    }
    return out;
  }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
export const ingestSingleName = (apis: number): string => `ingest-single, ${plural(apis, 'API')}`;
export const ingestBatchName = (apis: number): string => `ingest-batch, ${plural(apis, 'API')}`;
export const processName = (workers: number): string => `process, ${plural(workers, 'worker')}`;
export const endToEndName = (apis: number, workers: number): string => `end-to-end, ${plural(apis, 'API')} + ${plural(workers, 'worker')}`;
export const MEMORY_NAME = 'Redis per retained completed task';
/** Extra payload bytes of the second memory measurement. */
const PAYLOAD_EXTRA = 1024;
export const MEMORY_PAYLOAD_NAME = `Redis per retained completed task, +${PAYLOAD_EXTRA} B payload (echoed)`;
/** 1 s of one core ÷ Redis's CPU per task in the fastest end-to-end configuration. */
export const CEILING_NAME = 'Redis-bound ceiling, projected';

export async function capacity(ctx: Context): Promise<Omit<ScenarioResult, 'seconds'>> {
  const { opts } = ctx;
  const side = ctx.project;
  const figures = new Figures();
  const memory: Array<{ bytesPerTask: number; keys: number; tasks: number }> = [];
  const endToEndRuns: Array<Record<string, unknown>> = [];
  const peak = { api: 0, worker: 0 };
  const notePeak = (kind: 'api' | 'worker', pids: Array<number | undefined>): void => {
    for (const pid of pids) peak[kind] = Math.max(peak[kind], peakRssMiB(pid) ?? 0);
  };

  /** Runs `work` with `count` API processes on the side's prefix: its own, and more started for it. */
  const withApis = async (count: number, work: (urls: string[], pids: Array<number | undefined>) => Promise<void>): Promise<void> => {
    const extra: Array<{ child: Child; url: string }> = [];
    try {
      while (extra.length < count - 1) extra.push(await side.startExtraApi());
      const pids = [side.apiPid, ...extra.map((e) => e.child.proc.pid)];
      await work([side.apiUrl, ...extra.map((e) => e.url)], pids);
      notePeak('api', pids);
    } finally {
      for (const { child } of extra) await child.stop();
    }
  };

  const startWorkers = async (count: number): Promise<Child[]> => {
    const workers: Child[] = [];
    try {
      while (workers.length < count) workers.push(await side.startWorker(opts.concurrency));
    } catch (err) {
      for (const worker of workers) await worker.stop();
      throw err;
    }
    return workers;
  };

  const ingest = async (kind: 'single' | 'batch', urls: string[], apiPids: Array<number | undefined>): Promise<Sample> => {
    const single = kind === 'single';
    const target = urls.map((url) => `${url}${single ? '/tasks' : '/tasks/batch'}`);
    const body = single ? JSON.stringify(SMALL_TASK) : batchBody(opts.batchSize);
    const connections = single ? opts.connections : opts.batchConnections;
    const tasksPerAnswer = single ? 1 : opts.batchSize;
    if (opts.warmup > 0) await cannon({ url: target, method: 'POST', body, connections, seconds: opts.warmup });
    await side.quiesce();
    await side.wipe();
    const meter = await startMeter(ctx, { apis: apiPids, workers: [] });
    const result = await cannon({ url: target, method: 'POST', body, connections, seconds: opts.duration });
    const usage = await meter.stop(result.ok * tasksPerAnswer);
    await side.quiesce();
    await side.wipe();
    return { perSecond: result.perSecond * tasksPerAnswer, ...usage };
  };

  const drain = async (count: number): Promise<Sample> => {
    const tasks = opts.tasks * count;
    await side.wipe();
    // Paused while the workers start and the tasks are added: the clock runs from resume to the last completion.
    await side.queue.pause();
    const workers = await startWorkers(count);
    const pids = workers.map((w) => w.proc.pid);
    try {
      await fill(ctx, side, tasks);
      const meter = await startMeter(ctx, { apis: [], workers: pids });
      const started = performance.now();
      await side.queue.resume();
      await waitCompleted(side, tasks);
      const seconds = (performance.now() - started) / 1000;
      const usage = await meter.stop(tasks);
      for (const worker of workers) worker.assertRunning();
      notePeak('worker', pids);
      // Weighed once the workers have left (registry entries gone, counters flushed), as `memory` does.
      for (const worker of workers) await worker.stop();
      const weighed = await memoryUnder(ctx.redis, side.prefix);
      memory.push({ bytesPerTask: weighed.bytes / tasks, keys: weighed.keys, tasks });
      return { perSecond: tasks / seconds, ...usage };
    } finally {
      for (const worker of workers) await worker.stop();
      await side.wipe();
    }
  };

  /** Bytes per completed task, and the share of the type's event stream (capped by BullMQ, not per task). */
  const weighWithPayload = async (): Promise<{ bytesPerTask: number; streamBytesPerTask: number }> => {
    const tasks = opts.tasks;
    await side.wipe();
    const worker = await side.startWorker(opts.concurrency);
    try {
      await fill(ctx, side, tasks, 2, { ...SMALL_TASK, payload: { ...SMALL_PAYLOAD, blob: 'x'.repeat(PAYLOAD_EXTRA) } });
      await waitCompleted(side, tasks);
      await worker.stop();
      const weighed = await memoryUnder(ctx.redis, side.prefix);
      const stream = Number(await ctx.redis.admin.call('MEMORY', 'USAGE', `${side.prefix}:{custom}:events`, 'SAMPLES', '0'));
      return { bytesPerTask: weighed.bytes / tasks, streamBytesPerTask: stream / tasks };
    } finally {
      await worker.stop();
      await side.wipe();
    }
  };

  const endToEnd = async (urls: string[], apiPids: Array<number | undefined>, count: number): Promise<Sample> => {
    await side.wipe();
    const workers = await startWorkers(count);
    const workerPids = workers.map((w) => w.proc.pid);
    const body = batchBody(opts.e2eBatchSize);
    let backlog = 0;
    let stop = false;
    const failures: Error[] = [];
    const waiting = async (): Promise<number> => {
      const counts = await side.queue.getJobCounts('wait', 'prioritized');
      return (counts.wait ?? 0) + (counts.prioritized ?? 0);
    };
    const poll = async (): Promise<void> => {
      while (!stop) {
        backlog = await waiting();
        await sleep(20);
      }
    };
    const lane = async (i: number): Promise<void> => {
      const url = urls[i % urls.length]!;
      while (!stop) {
        if (backlog >= opts.e2eBacklog) {
          await sleep(2);
          continue;
        }
        await httpOk(url, 'POST', '/tasks/batch', body);
        backlog += opts.e2eBatchSize;
      }
    };
    const load = Promise.all([poll(), ...Array.from({ length: opts.batchConnections }, (_, i) => lane(i))]).catch((err: Error) => {
      stop = true;
      failures.push(err);
    });
    const total = async (): Promise<number> => Object.values(await side.queue.getJobCounts()).reduce((sum, n) => sum + n, 0);
    try {
      await sleep(opts.latencyWarmup * 1000);
      const [created0, completed0] = [await total(), await side.completedCount()];
      const meter = await startMeter(ctx, { apis: apiPids, workers: workerPids });
      const started = performance.now();
      await sleep(opts.duration * 1000);
      const completed = (await side.completedCount()) - completed0;
      const created = (await total()) - created0;
      const seconds = (performance.now() - started) / 1000;
      const usage = await meter.stop(completed);
      stop = true;
      await load;
      if (failures[0]) throw failures[0];
      for (const worker of workers) worker.assertRunning();
      notePeak('worker', workerPids);
      endToEndRuns.push({
        apis: urls.length,
        workers: count,
        created_per_s: Math.round(created / seconds),
        completed_per_s: Math.round(completed / seconds),
        backlog_at_end: await waiting(),
      });
      return { perSecond: completed / seconds, ...usage };
    } finally {
      stop = true;
      await load;
      for (const worker of workers) await worker.stop();
      await side.quiesce();
      await side.wipe();
    }
  };

  for (let round = 0; round < opts.repeats; round++) {
    ctx.log(`  round ${round + 1} of ${opts.repeats}`);
    for (const apis of opts.apis) {
      await withApis(apis, async (urls, pids) => {
        const single = await ingest('single', urls, pids);
        figures.add(ingestSingleName(apis), 'tasks/s', single);
        const batch = await ingest('batch', urls, pids);
        figures.add(ingestBatchName(apis), 'tasks/s', batch);
        ctx.log(`    ${plural(apis, 'API')}: single ${Math.round(single.perSecond)} tasks/s ${cpuText(single)}; batch ${Math.round(batch.perSecond)} tasks/s ${cpuText(batch)}`);
      });
    }
    for (const workers of opts.workers) {
      const sample = await drain(workers);
      figures.add(processName(workers), 'tasks/s', sample);
      ctx.log(`    process, ${plural(workers, 'worker')}: ${Math.round(sample.perSecond)} tasks/s ${cpuText(sample)}`);
    }
    for (const apis of opts.apis) {
      await withApis(apis, async (urls, pids) => {
        for (const workers of opts.workers) {
          const sample = await endToEnd(urls, pids, workers);
          figures.add(endToEndName(apis, workers), 'tasks/s', sample);
          ctx.log(`    end-to-end, ${plural(apis, 'API')} + ${plural(workers, 'worker')}: ${Math.round(sample.perSecond)} tasks/s ${cpuText(sample)}`);
        }
      });
    }
  }

  // Memory is the same from run to run (the drains above show it): one weighing with a payload is enough.
  const withPayload = await weighWithPayload();
  ctx.log(`    memory: ${Math.round(median(memory.map((m) => m.bytesPerTask)))} B/task; +${PAYLOAD_EXTRA} B payload: ${Math.round(withPayload.bytesPerTask)} B/task`);

  // Redis's CPU per task end to end, taken where the engine ran fastest (the busiest Redis), projects the
  // rate at which Redis alone would fill one core.
  const fastest = opts.apis
    .flatMap((apis) => opts.workers.map((workers) => endToEndName(apis, workers)))
    .map((name) => ({ name, samples: figures.samples(name) }))
    .sort((a, b) => median(b.samples.map((s) => s.perSecond)) - median(a.samples.map((s) => s.perSecond)))[0]!;
  const metrics = figures.metrics();
  const bytes = memory.map((m) => m.bytesPerTask);
  metrics.push({ ...metric(MEMORY_NAME, 'bytes', { project: bytes }, null), best: Math.min(...bytes), spread: [Math.min(...bytes), Math.max(...bytes)] });
  const payloadBytes = withPayload.bytesPerTask;
  metrics.push({ ...metric(MEMORY_PAYLOAD_NAME, 'bytes', { project: [payloadBytes] }, null), best: payloadBytes, spread: [payloadBytes, payloadBytes] });
  const ceilings = fastest.samples.map((s) => s.usPerTask.redis).filter((us): us is number => typeof us === 'number' && us > 0).map((us) => 1e6 / us);
  if (ceilings.length) {
    metrics.push({ ...metric(CEILING_NAME, 'tasks/s', { project: ceilings }, null), best: Math.max(...ceilings), spread: [Math.min(...ceilings), Math.max(...ceilings)] });
  }
  return {
    scenario: 'capacity',
    method: {
      project:
        'the engine alone, 1..n apps/api and apps/worker processes (WORKER_TASK_TYPES=custom) on one Redis; custom echo tasks; ' +
        'ingest: autocannon spread over the API processes, no worker; process: queued tasks drained from resume to the last completion; ' +
        'end-to-end: POST /tasks/batch lanes spread over the APIs while the workers run, holding off above a backlog, completions counted over the window; ' +
        'memory: MEMORY USAGE of every key under the prefix after a drain, per task',
      baseline: 'none',
    },
    settings: {
      repeats: opts.repeats,
      apis: opts.apis,
      workers: opts.workers,
      worker_concurrency: opts.concurrency,
      ingest_single: { connections: opts.connections, duration_s: opts.duration, warmup_s: opts.warmup, body: JSON.stringify(SMALL_TASK) },
      ingest_batch: { batch_size: opts.batchSize, in_flight: opts.batchConnections, duration_s: opts.duration, warmup_s: opts.warmup },
      process: { tasks_per_worker_process: opts.tasks, payload: SMALL_PAYLOAD },
      end_to_end: {
        batch_size: opts.e2eBatchSize,
        in_flight: opts.batchConnections,
        backlog_limit: opts.e2eBacklog,
        warmup_s: opts.latencyWarmup,
        window_s: opts.duration,
      },
      cpu: 'redis: INFO cpu (main thread); apis, workers, bench (this process, the load generator): /proc/<pid>/stat; machine: /proc/stat, every process on it, all cores',
      ceiling_from: fastest.name,
    },
    metrics,
    cpu_us_per_task: figures.byGroup((s) => s.usPerTask),
    cpu_percent: figures.byGroup((s) => s.percent),
    peak_rss_mib: { api: peak.api || null, worker: peak.worker || null },
    details: {
      end_to_end_runs: endToEndRuns,
      memory_runs: memory,
      // The type's BullMQ event stream is trimmed to about 10,000 entries whatever the retention: its share
      // per task shrinks as more tasks are retained.
      memory_with_payload: { extra_payload_bytes: PAYLOAD_EXTRA, tasks: opts.tasks, bytes_per_task: payloadBytes, event_stream_bytes_per_task: withPayload.streamBytesPerTask },
    },
    met: null,
  };
}

const cpuText = (sample: Sample): string =>
  `(CPU % of a core: ${GROUPS.filter((g) => sample.percent[g] !== null).map((g) => `${g} ${sample.percent[g]}`).join(', ')})`;
