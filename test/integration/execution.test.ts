// What workers do with tasks: priority order, timeouts, retries with back-off, cancel of running work,
// and statistics that agree with what happened. Real Redis, real BullMQ workers (in-process here;
// multi-process.test.ts runs separate processes).
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ExecutorRegistry } from '@taskengine/core';
import { createExecutorRegistry } from '@taskengine/executors';
import { BUILTIN_HANDLERS } from '@taskengine/executors';
import { createTask, startEngine, testConfig, waitFor, waitForStatus, type Engine } from '../support/harness.js';

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** The build's executors, where a custom task with `probe: true` records how its signal ended. */
function probeExecutors(): { executors: ExecutorRegistry; aborted: Map<string, string>; started: string[] } {
  const executors = createExecutorRegistry(testConfig('unused'));
  const aborted = new Map<string, string>();
  const started: string[] = [];
  const custom = executors.custom!;
  executors.custom = {
    ...custom,
    payloadSchema: custom.payloadSchema,
    async execute(payload, ctx) {
      started.push(ctx.task.id);
      if (payload.probe !== true) return custom.execute(payload, ctx);
      ctx.signal.addEventListener('abort', () => aborted.set(ctx.task.id, (ctx.signal.reason as Error).name + ':' + (ctx.signal.reason as { kind?: string }).kind));
      return BUILTIN_HANDLERS.sleep!({ duration_ms: payload.duration_ms ?? 10_000 }, ctx);
    },
  };
  return { executors, aborted, started };
}

describe('priority', () => {
  it('starts tasks by priority, then in creation order', async () => {
    engine = await startEngine({ label: 'priority' });
    const plan = [4, 2, 0, 3, 1, 2, 0, 4, 1, 3, 2, 0];
    const created: Array<{ id: string; priority: number; index: number }> = [];
    for (const [index, priority] of plan.entries()) {
      const task = await createTask(engine, { priority, payload: { handler: 'sleep', duration_ms: 15 } });
      created.push({ id: task.id, priority, index });
    }
    await engine.startWorker({ concurrency: 1 });
    const done = await waitFor(async () => {
      const tasks = await Promise.all(created.map(async ({ id }) => (await engine!.request('GET', `/tasks/${id}`)).body));
      return tasks.every((t) => t.status === 'completed') ? tasks : undefined;
    }, { what: 'all tasks completed' });
    const startOrder = [...done].sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at)).map((t) => t.id);
    const expected = [...created].sort((a, b) => a.priority - b.priority || a.index - b.index).map((t) => t.id);
    expect(startOrder).toEqual(expected);
  });
});

describe('timeout', () => {
  it('stops the work at timeout_seconds, retries, and ends timeout', async () => {
    const probe = probeExecutors();
    engine = await startEngine({ label: 'timeout', executors: probe.executors, worker: true });
    const task = await createTask(engine, {
      payload: { handler: 'sleep', probe: true, duration_ms: 20_000 },
      config: { timeout_seconds: 0.4, max_retries: 2, retry_delay_seconds: 0.1, backoff: 'fixed' },
    });
    const ended = await waitForStatus(engine, task.id, ['timeout', 'failed', 'completed']);
    expect(ended).toMatchObject({ status: 'timeout', error_code: 'timeout', retry_count: 2 });
    expect(probe.aborted.get(task.id)).toBe('AbortError:timeout');
    expect(probe.started.filter((id) => id === task.id)).toHaveLength(3);
    expect(Date.parse(ended.completed_at) - Date.parse(ended.created_at)).toBeLessThan(10_000);
    const stats = (await engine.request('GET', '/stats')).body;
    expect(stats).toMatchObject({ timeout: 1, failed: 0, running: 0 });
  });
});

describe('retries', () => {
  it('attempts a failing task max_retries + 1 times with exponential back-off', async () => {
    const probe = probeExecutors();
    engine = await startEngine({ label: 'retries', executors: probe.executors, worker: true });
    const task = await createTask(engine, {
      payload: { handler: 'fail', message: 'boom' },
      config: { max_retries: 2, retry_delay_seconds: 0.25, backoff: 'exponential' },
    });
    const ended = await waitForStatus(engine, task.id, 'failed');
    expect(ended).toMatchObject({ error: 'boom', error_code: 'handler_error', retry_count: 2 });
    expect(probe.started.filter((id) => id === task.id)).toHaveLength(3);
    // Delays 0.25 s then 0.5 s between the three attempts.
    expect(Date.parse(ended.completed_at) - Date.parse(ended.created_at)).toBeGreaterThanOrEqual(750);
    // Lifetime counters are flushed by the worker in batches.
    await waitFor(async () => (await engine!.request('GET', '/stats')).body.lifetime.failed === 1, { what: 'lifetime.failed' });
    expect((await engine.request('GET', '/stats')).body.lifetime).toMatchObject({ failed: 1, retried: 2 });
  });

  it('fails a non-retryable error at once', async () => {
    engine = await startEngine({ label: 'noretry', worker: true });
    const task = await createTask(engine, { payload: { handler: 'fail', retryable: false }, config: { max_retries: 5, retry_delay_seconds: 0 } });
    const ended = await waitForStatus(engine, task.id, 'failed');
    expect(ended.retry_count).toBe(0);
  });
});

describe('cancel', () => {
  it('aborts a running task within a second; it ends cancelled and never runs again', async () => {
    const probe = probeExecutors();
    engine = await startEngine({ label: 'cancel-run', executors: probe.executors, worker: true });
    const task = await createTask(engine, { payload: { handler: 'sleep', probe: true, duration_ms: 30_000 }, config: { max_retries: 3, retry_delay_seconds: 0 } });
    await waitForStatus(engine, task.id, 'running');
    const asked = Date.now();
    const res = await engine.request('POST', `/tasks/${task.id}/cancel`);
    expect(Date.now() - asked).toBeLessThan(1000);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, task_id: task.id, status: 'cancelled', previous_status: 'running' });
    expect(probe.aborted.get(task.id)).toBe('AbortError:cancel');
    const after = (await engine.request('GET', `/tasks/${task.id}`)).body;
    expect(after).toMatchObject({ status: 'cancelled', error_code: 'cancelled', retry_count: 0 });
    const again = await engine.request('POST', `/tasks/${task.id}/cancel`);
    expect(again.status).toBe(409);
    // A later task of the same worker completing proves the worker moved on without re-running it.
    const next = await createTask(engine, {});
    await waitForStatus(engine, next.id, 'completed');
    expect(probe.started.filter((id) => id === task.id)).toHaveLength(1);
  });

  it('a queued task never runs once cancelled', async () => {
    const probe = probeExecutors();
    engine = await startEngine({ label: 'cancel-queued', executors: probe.executors });
    const task = await createTask(engine, {});
    expect((await engine.request('POST', `/tasks/${task.id}/cancel`)).status).toBe(200);
    await engine.startWorker();
    const next = await createTask(engine, {});
    await waitForStatus(engine, next.id, 'completed');
    expect(probe.started).not.toContain(task.id);
    expect((await engine.request('GET', `/tasks/${task.id}`)).body.status).toBe('cancelled');
  });

  it('a completed task cannot be cancelled', async () => {
    engine = await startEngine({ label: 'cancel-done', worker: true });
    const task = await createTask(engine, {});
    await waitForStatus(engine, task.id, 'completed');
    const res = await engine.request('POST', `/tasks/${task.id}/cancel`);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'task_not_cancellable', details: { status: 'completed' } });
  });
});

describe('statistics', () => {
  it('agree with what happened, and with /tasks', async () => {
    engine = await startEngine({ label: 'stats', worker: { concurrency: 4 } });
    const ids = { completed: [] as string[], failed: [] as string[], cancelled: [] as string[], timeout: [] as string[], pending: [] as string[] };
    for (let i = 0; i < 5; i++) ids.completed.push((await createTask(engine, { priority: i % 5 })).id);
    for (let i = 0; i < 3; i++) ids.failed.push((await createTask(engine, { payload: { handler: 'fail', retryable: false } })).id);
    for (let i = 0; i < 2; i++) ids.timeout.push((await createTask(engine, { payload: { handler: 'sleep', duration_ms: 5000 }, config: { timeout_seconds: 0.2, max_retries: 0 } })).id);
    for (let i = 0; i < 2; i++) ids.pending.push((await createTask(engine, { delay_seconds: 3600 })).id);
    for (let i = 0; i < 2; i++) {
      const running = await createTask(engine, { payload: { handler: 'sleep', duration_ms: 30_000 } });
      await waitForStatus(engine, running.id, 'running');
      expect((await engine.request('POST', `/tasks/${running.id}/cancel`)).status).toBe(200);
      ids.cancelled.push(running.id);
    }
    for (const [status, list] of Object.entries(ids)) {
      for (const id of list) await waitForStatus(engine, id, status);
    }
    const expected = { pending: 2, queued: 0, running: 0, completed: 5, failed: 3, cancelled: 2, timeout: 2 };
    const stats = await waitFor(async () => {
      const body = (await engine!.request('GET', '/stats')).body;
      // Workers flush their counters in batches: wait for every outcome a worker records, not just some.
      const { completed, failed, cancelled, timeout } = body.lifetime;
      return completed === 5 && failed === 3 && cancelled === 2 && timeout === 2 ? body : undefined;
    }, { what: 'lifetime counters flushed' });
    expect(stats).toMatchObject({ ...expected, total_tasks: 14 });
    expect(stats.by_type.custom).toEqual(expected);
    expect(stats.lifetime).toEqual({ created: 14, completed: 5, failed: 3, cancelled: 2, timeout: 2, retried: 0 });
    expect(stats.success_rate).toBeCloseTo(5 / 10, 4);
    expect(stats.throughput.completed_last_minute).toBe(5);
    expect(stats.throughput.failed_last_minute).toBe(7);
    expect(stats.workers).toEqual({ total: 1, busy: 0 });
    for (const [status, list] of Object.entries(ids)) {
      const page = (await engine.request('GET', `/tasks?status=${status}`)).body;
      expect({ status, total: page.total, ids: new Set(page.tasks.map((t: { id: string }) => t.id)) }).toEqual({ status, total: list.length, ids: new Set(list) });
    }
    const both = (await engine.request('GET', '/tasks?status=failed,timeout')).body;
    expect(both.total).toBe(5);
  });
});
