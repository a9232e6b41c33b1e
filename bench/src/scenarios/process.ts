// process and memory: one worker process at `concurrency` drains `tasks` queued small tasks; then the
// completed tasks' Redis footprint is weighed. Both come from the same runs.
import type { Side } from '../env.js';
import { memoryUnder } from '../env.js';
import { httpOk, performance } from '../load.js';
import { metric, scenarioMet, type ScenarioResult } from '../report.js';
import { alternate, cpuPerTask, fill, medianCpu, SMALL_PAYLOAD, waitCompleted, type Context, type CpuPerTask } from './common.js';

interface ProcessRun {
  perSecond: number;
  bytesPerTask: number;
  keys: number;
  cpu: CpuPerTask;
}

async function processRun(ctx: Context, side: Side): Promise<ProcessRun> {
  const { tasks, concurrency } = ctx.opts;
  await side.wipe();
  // Queue paused while the worker starts and the tasks are filled in, so the clock runs from resume to
  // the last completion: neither process start-up nor filling is timed.
  await side.queue.pause();
  const worker = await side.startWorker(concurrency);
  try {
    await fill(ctx, side, tasks);
    const started = performance.now();
    const meter = cpuPerTask({ worker: worker.proc.pid, redis: ctx.redis.pid });
    await side.queue.resume();
    await waitCompleted(side, tasks);
    const seconds = (performance.now() - started) / 1000;
    const cpu = meter.perTask(tasks);
    worker.assertRunning();
    if (side.name === 'project') {
      const stats = await httpOk<{ completed: number; failed: number }>(side.apiUrl, 'GET', '/stats');
      if (stats.completed !== tasks) throw new Error(`GET /stats says ${stats.completed} completed, expected ${tasks}`);
    }
    await worker.stop();
    // Weighed once the worker has left (its registry entry gone, its counters flushed).
    const memory = await memoryUnder(ctx.redis, side.prefix);
    const run = { perSecond: tasks / seconds, bytesPerTask: memory.bytes / tasks, keys: memory.keys, cpu };
    ctx.log(
      `  ${side.name}: ${Math.round(run.perSecond)} tasks/s, ${Math.round(run.bytesPerTask)} B/task (${memory.keys} keys; CPU µs/task ${JSON.stringify(cpu)})`,
    );
    return run;
  } finally {
    await worker.stop();
    await side.wipe();
  }
}

export async function processAndMemory(ctx: Context): Promise<{ process: Omit<ScenarioResult, 'seconds'>; memory: Omit<ScenarioResult, 'seconds'> }> {
  const { tasks, concurrency } = ctx.opts;
  const runs = await alternate(ctx, (side) => processRun(ctx, side));
  const pick = (key: 'perSecond' | 'bytesPerTask') => ({ project: runs.project.map((r) => r[key]), baseline: runs.baseline.map((r) => r[key]) });
  const processMetrics = [metric('completed', 'tasks/s', pick('perSecond'), { on: 'ratio', op: '>=', value: 0.7 })];
  const memoryMetrics = [metric('Redis per completed task', 'bytes', pick('bytesPerTask'), { on: 'ratio', op: '<=', value: 1.5 })];
  const fills = {
    project: `${tasks} tasks through POST /tasks/batch, then one apps/worker process (WORKER_CONCURRENCY=${concurrency})`,
    baseline: `${tasks} jobs through addBulk (same data and options), then one raw BullMQ Worker process (concurrency ${concurrency}, removeOnComplete/Fail {count: -1})`,
  };
  return {
    process: {
      scenario: 'process',
      method: fills,
      settings: {
        tasks,
        concurrency,
        payload: SMALL_PAYLOAD,
        timing: 'queue paused while the worker starts and tasks are added; clock from resume until the completed count (polled every 20 ms) reaches all',
      },
      metrics: processMetrics,
      cpu_us_per_task: medianCpu(runs),
      met: scenarioMet(processMetrics),
    },
    memory: {
      scenario: 'memory',
      method: fills,
      settings: {
        tasks,
        payload: SMALL_PAYLOAD,
        measure: 'sum of MEMORY USAGE <key> SAMPLES 0 over every key under the side\'s prefix (SCAN), after the worker stopped, divided by the tasks',
        keys: { project: runs.project.map((r) => r.keys), baseline: runs.baseline.map((r) => r.keys) },
      },
      metrics: memoryMetrics,
      met: scenarioMet(memoryMetrics),
    },
  };
}
