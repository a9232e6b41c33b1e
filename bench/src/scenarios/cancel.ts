// cancel: one running `sleep` task at a time is cancelled; the figure is the round trip of
// POST /tasks/{id}/cancel, which answers 200 only once the worker has aborted the handler.
import { http, httpOk, performance } from '../load.js';
import { metric, percentile, scenarioMet, type ScenarioResult } from '../report.js';
import { waitFor } from '../env.js';
import type { Context } from './common.js';

const SLEEP_TASK = { type: 'custom', payload: { handler: 'sleep', duration_ms: 30_000 }, config: { timeout_seconds: 120, max_retries: 0 } };

export async function cancel(ctx: Context): Promise<Omit<ScenarioResult, 'seconds'>> {
  const { cancels } = ctx.opts;
  const side = ctx.project;
  const times: number[] = [];
  let unconfirmed = 0;
  await side.wipe();
  const worker = await side.startWorker(4);
  try {
    for (let i = 0; i < cancels; i++) {
      const { task_id: id } = await httpOk<{ task_id: string }>(side.apiUrl, 'POST', '/tasks', SLEEP_TASK);
      await waitFor(async () => (await httpOk<{ status: string }>(side.apiUrl, 'GET', `/tasks/${id}`)).status === 'running', {
        intervalMs: 5,
        what: `task ${id} to run`,
      });
      const started = performance.now();
      const answer = await http<{ status: string }>(side.apiUrl, 'POST', `/tasks/${id}/cancel`);
      times.push(performance.now() - started);
      if (answer.status === 202) unconfirmed++;
      else if (answer.status !== 200 || answer.body.status !== 'cancelled') {
        throw new Error(`cancel of ${id} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      }
    }
    if (unconfirmed > 0) {
      const pending = await httpOk<{ running: number }>(side.apiUrl, 'GET', '/stats');
      await waitFor(async () => (await httpOk<{ running: number }>(side.apiUrl, 'GET', '/stats')).running === 0, {
        what: `${pending.running} unconfirmed cancels to take effect`,
      });
    }
  } finally {
    await worker.stop();
    await side.wipe();
  }
  ctx.log(`  ${cancels} cancels: p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms`);
  const metrics = [
    metric('cancel round trip p50', 'ms', { project: [percentile(times, 50)] }, null),
    metric('cancel round trip p99', 'ms', { project: [percentile(times, 99)] }, { on: 'project', op: '<=', value: 100 }),
  ];
  return {
    scenario: 'cancel',
    method: {
      project: 'POST a custom sleep task (30 s), wait until GET /tasks/{id} says running, time POST /tasks/{id}/cancel (200 = the worker aborted the handler)',
      baseline: 'none',
    },
    settings: { cancels, worker_concurrency: 4, unconfirmed_202: unconfirmed, max_ms: Math.max(...times) },
    metrics,
    met: scenarioMet(metrics),
  };
}
