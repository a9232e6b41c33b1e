// latency: an open-loop load of `latencyRate` tasks/s for `duration` seconds with the worker running;
// then each task's created → started and created → completed times, p50 and p99.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { jobData, jobOptions, QUEUE_NAME } from '../baselines/job.js';
import type { Side } from '../env.js';
import { bounded, httpOk, openLoop } from '../load.js';
import { metric, percentile, scenarioMet, type ScenarioResult } from '../report.js';
import { alternate, SMALL_PAYLOAD, SMALL_TASK, waitCompleted, type Context } from './common.js';

interface Times {
  created: number;
  started: number;
  completed: number;
}

interface LatencyRun {
  startedP50: number;
  startedP99: number;
  completedP50: number;
  completedP99: number;
  offeredPerSecond: number;
}

type TaskTimes = { created_at: string; started_at: string | null; completed_at: string | null; status: string };

/** The project's times, from its API (GET /tasks/{id}: created_at, started_at, completed_at). */
async function projectTimes(side: Side, ids: string[]): Promise<Times[]> {
  const out: Times[] = [];
  await bounded(ids.length, 16, async (i) => {
    const task = await httpOk<TaskTimes>(side.apiUrl, 'GET', `/tasks/${ids[i]}`);
    if (task.status !== 'completed' || !task.started_at || !task.completed_at) throw new Error(`task ${ids[i]} is ${task.status}`);
    out.push({ created: Date.parse(task.created_at), started: Date.parse(task.started_at), completed: Date.parse(task.completed_at) });
  });
  return out;
}

/** The baseline's times, from BullMQ's job hashes (timestamp, processedOn, finishedOn). */
async function baselineTimes(ctx: Context, side: Side, ids: string[]): Promise<Times[]> {
  const pipeline = ctx.redis.admin.pipeline();
  for (const id of ids) pipeline.hmget(`${side.prefix}:${QUEUE_NAME}:${id}`, 'timestamp', 'processedOn', 'finishedOn');
  return ((await pipeline.exec()) ?? []).map(([err, fields], i) => {
    if (err) throw err;
    const [created, started, completed] = (fields as Array<string | null>).map(Number);
    if (!created || !started || !completed) throw new Error(`job ${ids[i]} has not completed`);
    return { created, started, completed };
  });
}

export async function latency(ctx: Context): Promise<Omit<ScenarioResult, 'seconds'>> {
  const { latencyRate: rate, duration, concurrency, latencyWarmup: warmup } = ctx.opts;
  const body = JSON.stringify(SMALL_TASK);
  const connection = new Redis(ctx.redis.url, { maxRetriesPerRequest: null });
  const rawQueue = new Queue(QUEUE_NAME, { connection, prefix: ctx.baseline.prefix });
  // `viaApi`: tasks go through the side's HTTP API (always for the project; for the baseline, its
  // 15-line Express handler, a diagnostic run that prices the extra process and hop on its own).
  const run = async (side: Side, viaApi = side.name === 'project'): Promise<LatencyRun> => {
    await side.wipe();
    const worker = await side.startWorker(concurrency);
    try {
      const offer = (seconds: number, ids: string[]) =>
        openLoop(rate, seconds, async (i) => {
          if (viaApi) {
            ids[i] = (await httpOk<{ task_id: string }>(side.apiUrl, 'POST', '/tasks', body)).task_id;
          } else {
            const opts = jobOptions();
            await rawQueue.add('custom', jobData(SMALL_PAYLOAD), opts);
            ids[i] = opts.jobId!;
          }
        });
      // Unrecorded warm-up at the same rate: a fresh process's first seconds are JIT compilation, whose
      // stalls would otherwise make most of a p99 over a few thousand tasks (measured: p99 45 ms after 1 s
      // of warm-up, 7 ms after 4 s, on a worker whose steady state is the latter).
      const warmupIds: string[] = [];
      if (warmup > 0) await offer(warmup, warmupIds);
      const ids: string[] = [];
      const offered = await offer(duration, ids);
      await waitCompleted(side, warmupIds.length + ids.length);
      worker.assertRunning();
      const times = side.name === 'project' ? await projectTimes(side, ids) : await baselineTimes(ctx, side, ids);
      const toStart = times.map((t) => t.started - t.created);
      const toEnd = times.map((t) => t.completed - t.created);
      const result = {
        startedP50: percentile(toStart, 50),
        startedP99: percentile(toStart, 99),
        completedP50: percentile(toEnd, 50),
        completedP99: percentile(toEnd, 99),
        offeredPerSecond: offered.sent / offered.seconds,
      };
      ctx.log(
        `  ${side.name}${viaApi && side.name === 'baseline' ? ' via its API' : ''}: ${offered.sent} tasks at ${Math.round(result.offeredPerSecond)}/s; started p50 ${result.startedP50} p99 ` +
          `${result.startedP99} ms; completed p50 ${result.completedP50} p99 ${result.completedP99} ms`,
      );
      return result;
    } finally {
      await worker.stop();
      await side.wipe();
    }
  };
  try {
    const runs = await alternate(ctx, (side) => run(side));
    const baselineViaApi: LatencyRun[] = [];
    for (let round = 0; round < ctx.opts.repeats; round++) baselineViaApi.push(await run(ctx.baseline, true));
    const pick = (key: keyof LatencyRun, baseline = runs.baseline) => ({ project: runs.project.map((r) => r[key]), baseline: baseline.map((r) => r[key]) });
    const p99 = { on: 'ratio', op: '<=', value: 2 } as const;
    const metrics = [
      metric('created→started p50', 'ms', pick('startedP50'), null),
      metric('created→started p99', 'ms', pick('startedP99'), p99),
      metric('created→completed p50', 'ms', pick('completedP50'), null),
      metric('created→completed p99', 'ms', pick('completedP99'), p99),
      // Diagnostic, no target: against a baseline that also goes through an HTTP API process.
      metric('created→started p99 (baseline via its Express handler)', 'ms', pick('startedP99', baselineViaApi), null),
      metric('created→completed p99 (baseline via its Express handler)', 'ms', pick('completedP99', baselineViaApi), null),
    ];
    return {
      scenario: 'latency',
      method: {
        project: 'POST /tasks from the benchmark at a fixed offered rate (open loop), one apps/worker process running; times from GET /tasks/{id} (created_at, started_at, completed_at)',
        baseline: 'Queue.add from the benchmark at the same rate, one raw BullMQ Worker process running; times from the job hashes (timestamp, processedOn, finishedOn). Diagnostic rows: the same through the 15-line Express handler (POST /tasks, Queue.add there)',
      },
      settings: {
        offered_per_s: rate,
        duration_s: duration,
        warmup_s: warmup,
        tasks: Math.round(rate * duration),
        resolution: 'timestamps are whole milliseconds on both sides',
        concurrency,
        achieved_per_s: {
          project: runs.project.map((r) => r.offeredPerSecond),
          baseline: runs.baseline.map((r) => r.offeredPerSecond),
          baseline_via_api: baselineViaApi.map((r) => r.offeredPerSecond),
        },
      },
      metrics,
      met: scenarioMet(metrics),
    };
  } finally {
    await rawQueue.close();
    await connection.quit();
  }
}
