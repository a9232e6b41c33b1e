// Retention: finished tasks leave when their age passes tasks.max_age_hours (completed) or
// failed_max_age_hours (failed, cancelled, timeout), with their keys, and the counts drop with them.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { RetentionJanitor, TaskKeys } from '@taskengine/core';
import { createTask, startEngine, waitFor, waitForStatus, type Engine } from '../support/harness.js';

let engine: Engine;
beforeAll(async () => {
  // 0.0005 h = 1.8 s for completed tasks; failed ones are kept for an hour.
  engine = await startEngine({ label: 'retention', overrides: { tasks: { max_age_hours: 0.0005, failed_max_age_hours: 1 } }, worker: true });
});
afterAll(async () => {
  await engine.stop();
});

it('removes tasks past retention with their keys, and the counts follow', async () => {
  const done = await createTask(engine, {});
  const failed = await createTask(engine, { payload: { handler: 'fail', retryable: false } });
  const cancelled = await createTask(engine, { delay_seconds: 600 });
  await engine.request('POST', `/tasks/${cancelled.id}/cancel`);
  await waitForStatus(engine, done.id, 'completed');
  await waitForStatus(engine, failed.id, 'failed');
  const janitor = new RetentionJanitor(engine.redis, new TaskKeys(engine.prefix), engine.config);

  expect(await janitor.runOnce()).toBe(0);
  // The worker's own janitor may get there first; either way the task must go.
  await waitFor(async () => {
    await janitor.runOnce();
    return (await engine.request('GET', `/tasks/${done.id}`)).status === 404;
  }, { timeoutMs: 10_000, intervalMs: 200, what: 'the completed task to expire' });

  expect(await engine.redis.exists(`${engine.prefix}:{custom}:${done.id}`)).toBe(0);
  const stats = (await engine.request('GET', '/stats')).body;
  expect(stats).toMatchObject({ completed: 0, failed: 1, cancelled: 1, total_tasks: 2 });
  expect(stats.lifetime.completed).toBe(1);
  const list = (await engine.request('GET', '/tasks')).body;
  expect(list.tasks.map((t: { id: string }) => t.id).sort()).toEqual([failed.id, cancelled.id].sort());
  expect(list.total).toBe(2);
});
