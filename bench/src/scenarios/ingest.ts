// ingest-single and ingest-batch: how fast tasks get queued, no worker running.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAME } from '../baselines/job.js';
import type { Side } from '../env.js';
import { cannon, timed } from '../load.js';
import { metric, scenarioMet, type ScenarioResult } from '../report.js';
import { alternate, batchBody, bulkJobs, cpuPerTask, medianCpu, SMALL_TASK, type Context, type CpuPerTask } from './common.js';

interface IngestRun {
  perSecond: number;
  cpu: CpuPerTask;
}

/** POST /tasks with autocannon at `connections`, against the project's API and the 15-line Express handler. */
export async function ingestSingle(ctx: Context): Promise<Omit<ScenarioResult, 'seconds'>> {
  const { connections, duration, warmup } = ctx.opts;
  const body = JSON.stringify(SMALL_TASK);
  const run = async (side: Side): Promise<IngestRun> => {
    const url = `${side.apiUrl}/tasks`;
    if (warmup > 0) await cannon({ url, method: 'POST', body, connections, seconds: warmup });
    await side.quiesce();
    await side.wipe();
    const cpu = cpuPerTask({ api: side.apiPid, redis: ctx.redis.pid, bench: 'self' });
    const result = await cannon({ url, method: 'POST', body, connections, seconds: duration });
    const used = cpu.perTask(result.ok);
    await side.quiesce();
    await side.wipe();
    ctx.log(`  ${side.name}: ${Math.round(result.perSecond)} req/s (p99 ${result.latency.p99} ms; CPU µs/task ${JSON.stringify(used)})`);
    return { perSecond: result.perSecond, cpu: used };
  };
  const runs = await alternate(ctx, run);
  const rates = { project: runs.project.map((r) => r.perSecond), baseline: runs.baseline.map((r) => r.perSecond) };
  const metrics = [metric('created', 'req/s', rates, { on: 'ratio', op: '>=', value: 1.0 })];
  return {
    scenario: 'ingest-single',
    method: {
      project: 'autocannon POST /tasks (custom echo) to apps/api/dist/main.js',
      baseline: 'autocannon POST /tasks to a 15-line Express handler (express.json + queue.add, same job options)',
    },
    settings: { connections, duration_s: duration, warmup_s: warmup, body, worker: 'none' },
    metrics,
    cpu_us_per_task: medianCpu(runs),
    met: scenarioMet(metrics),
  };
}

/** POST /tasks/batch of `batchSize` tasks, against raw addBulk of the same jobs from the benchmark process. */
export async function ingestBatch(ctx: Context): Promise<Omit<ScenarioResult, 'seconds'>> {
  const { batchSize, batchConnections, duration, warmup } = ctx.opts;
  const body = batchBody(batchSize);
  // The baseline's client gets a connection of its own, as the project's API has.
  const connection = new Redis(ctx.redis.url, { maxRetriesPerRequest: null });
  const rawQueue = new Queue(QUEUE_NAME, { connection, prefix: ctx.baseline.prefix });
  try {
    const run = async (side: Side): Promise<IngestRun> => {
      let perSecond: number;
      let cpu: CpuPerTask;
      if (side.name === 'project') {
        const url = `${side.apiUrl}/tasks/batch`;
        if (warmup > 0) await cannon({ url, method: 'POST', body, connections: batchConnections, seconds: warmup });
        await side.quiesce();
        await side.wipe();
        const meter = cpuPerTask({ api: side.apiPid, redis: ctx.redis.pid, bench: 'self' });
        const result = await cannon({ url, method: 'POST', body, connections: batchConnections, seconds: duration });
        cpu = meter.perTask(result.ok * batchSize);
        await side.quiesce();
        perSecond = result.perSecond * batchSize;
      } else {
        const addBulk = async (): Promise<void> => void (await rawQueue.addBulk(bulkJobs(batchSize)));
        if (warmup > 0) await timed(warmup, batchConnections, addBulk);
        await side.wipe();
        // Here the benchmark process is the client that builds and sends the jobs (the API's part).
        const meter = cpuPerTask({ redis: ctx.redis.pid, bench: 'self' });
        const result = await timed(duration, batchConnections, addBulk);
        cpu = meter.perTask(result.calls * batchSize);
        perSecond = (result.calls * batchSize) / result.seconds;
      }
      await side.wipe();
      ctx.log(`  ${side.name}: ${Math.round(perSecond)} tasks/s (CPU µs/task ${JSON.stringify(cpu)})`);
      return { perSecond, cpu };
    };
    const runs = await alternate(ctx, run);
    const rates = { project: runs.project.map((r) => r.perSecond), baseline: runs.baseline.map((r) => r.perSecond) };
    const metrics = [metric('created', 'tasks/s', rates, { on: 'ratio', op: '>=', value: 0.8 })];
    return {
      scenario: 'ingest-batch',
      method: {
        project: `autocannon POST /tasks/batch (${batchSize} custom echo tasks a request)`,
        baseline: `Queue.addBulk of ${batchSize} jobs with the same data and options, from the benchmark process`,
      },
      settings: { batch_size: batchSize, in_flight: batchConnections, duration_s: duration, warmup_s: warmup, worker: 'none' },
      metrics,
      cpu_us_per_task: medianCpu(runs),
      met: scenarioMet(metrics),
    };
  } finally {
    await rawQueue.close();
    await connection.quit();
  }
}
