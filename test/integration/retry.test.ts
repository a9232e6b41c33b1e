// Retry (CONTRACT section 7): POST /tasks/{id}/retry and POST /tasks/retry, over real HTTP with real
// workers on a real Redis. A task that failed, timed out or was cancelled (queued or running) goes back
// into its queue under the same id and runs again; what the user reads of its last run is reset, its
// retry budget is fresh, retry_count keeps counting; other statuses are refused; /stats stays exactly
// what a full scan of GET /tasks finds.
//
// The tasks run a "gated" custom executor: while the test keeps a task's gate closed the task fails
// (or hangs until it times out or is cancelled); once the gate is open it completes. So the same task
// can end badly first and then, retried, complete.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TaskError, TaskKeys, TaskRetries, TASK_STATUSES, TASK_TYPES, type ExecutorRegistry } from '@taskengine/core';
import { createExecutorRegistry } from '@taskengine/executors';
import { createTask, startEngine, testConfig, waitFor, waitForStatus, type Engine } from '../support/harness.js';
import { listAllTasks } from '../support/task-audit.js';

type Closed = 'fail' | 'fail_retryable' | 'hang' | 'dependency';

/** Closed gates by name; a gate not here is open. */
const gates = new Map<string, Closed>();

function gatedExecutors(): ExecutorRegistry {
  const executors = createExecutorRegistry(testConfig('unused'));
  const custom = executors.custom!;
  executors.custom = {
    ...custom,
    async execute(payload, ctx) {
      const gate = payload.gate as string | undefined;
      if (gate === undefined) return custom.execute(payload, ctx);
      const closed = gates.get(gate);
      if (closed === undefined) return { passed: gate, attempt: ctx.task.attempt };
      ctx.progress(50);
      if (closed === 'hang') {
        await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      }
      if (closed === 'dependency') throw new TaskError('dependency_failed', 'a dependency failed', { retryable: false });
      throw new TaskError('gate_closed', `gate ${gate} is closed`, { retryable: closed === 'fail_retryable', result: { partial: gate } });
    },
  };
  return executors;
}

let engine: Engine;
/** Retries this file made (through the API, or TaskRetries itself): each takes one final outcome back. */
let retriedByApi = 0;
/** Of those, retries of tasks cancelled before they ever started: they add no retry_count. */
let retriedBeforeStarting = 0;

beforeAll(async () => {
  engine = await startEngine({ label: 'retry', executors: gatedExecutors(), worker: { types: ['custom', 'system_command'], concurrency: 4 } });
});
afterAll(async () => {
  await engine?.stop();
});

async function retry(id: string): Promise<{ status: number; body: any }> {
  const res = await engine.request('POST', `/tasks/${id}/retry`);
  if (res.status === 200) retriedByApi++;
  return res;
}

async function bulkRetry(query: string): Promise<{ status: number; body: any }> {
  const res = await engine.request('POST', `/tasks/retry${query}`);
  if (res.status === 200) retriedByApi += res.body.retried;
  return res;
}

const gated = (gate: string, closed: Closed, config: Record<string, unknown> = {}): Promise<any> => {
  gates.set(gate, closed);
  return createTask(engine, { payload: { gate }, config: { max_retries: 0, ...config } });
};

describe('POST /tasks/{id}/retry', () => {
  it('puts a failed task back in its queue with its last run reset; it runs again and completes, retry_count going on', async () => {
    const task = await gated('failed-once', 'fail', { max_retries: 0 });
    const failed = await waitForStatus(engine, task.id, 'failed');
    expect(failed).toMatchObject({ error_code: 'gate_closed', result: { partial: 'failed-once' }, progress: 50, retry_count: 0 });
    expect(failed.completed_at).not.toBeNull();

    // Paused, so the reset task can be read while it waits in its queue.
    expect((await engine.request('POST', '/queues/custom/pause')).status).toBe(200);
    try {
      const res = await retry(task.id);
      expect(res).toMatchObject({ status: 200, body: { success: true, task_id: task.id, status: 'queued', previous_status: 'failed' } });
      const queued = (await engine.request('GET', `/tasks/${task.id}`)).body;
      expect(queued).toMatchObject({
        id: task.id, status: 'queued', result: null, error: null, error_code: null, progress: 0,
        started_at: null, completed_at: null, retry_count: 0, priority: task.priority, config: task.config, payload: task.payload,
        created_at: task.created_at,
      });
      gates.delete('failed-once');
    } finally {
      await engine.request('POST', '/queues/custom/resume');
    }
    const done = await waitForStatus(engine, task.id, 'completed');
    // attempt 1 again: BullMQ's retry budget starts afresh; retry_count counts every attempt started.
    expect(done).toMatchObject({ result: { passed: 'failed-once', attempt: 1 }, error: null, error_code: null, retry_count: 1 });
    // Retried twice no more: it is completed now.
    expect((await retry(task.id)).status).toBe(409);
  });

  it('gives a fresh max_retries budget each time', async () => {
    const fast = { max_retries: 1, retry_delay_seconds: 0.05, backoff: 'fixed' };
    const task = await gated('budget', 'fail_retryable', fast);
    expect(await waitForStatus(engine, task.id, 'failed')).toMatchObject({ retry_count: 1 });
    expect((await retry(task.id)).body).toMatchObject({ previous_status: 'failed', status: 'queued' });
    // Two more attempts (the first and its one automatic retry), as for a new task.
    await waitForStatus(engine, task.id, 'failed');
    expect((await engine.request('GET', `/tasks/${task.id}`)).body).toMatchObject({ status: 'failed', retry_count: 3 });
    gates.delete('budget');
    expect((await retry(task.id)).status).toBe(200);
    expect(await waitForStatus(engine, task.id, 'completed')).toMatchObject({ retry_count: 4, result: { attempt: 1 } });
  });

  it('retries a timed-out task, one cancelled while queued and one cancelled while running; each completes', async () => {
    const timedOut = await gated('timeout', 'hang', { timeout_seconds: 0.3 });
    expect(await waitForStatus(engine, timedOut.id, 'timeout')).toMatchObject({ error_code: 'timeout' });

    const queued = await createTask(engine, { payload: { gate: 'open' }, delay_seconds: 3600 });
    expect((await engine.request('POST', `/tasks/${queued.id}/cancel`)).body.status).toBe('cancelled');

    const running = await gated('running', 'hang', { timeout_seconds: 60 });
    await waitForStatus(engine, running.id, 'running');
    expect((await engine.request('POST', `/tasks/${running.id}/cancel`)).body).toMatchObject({ status: 'cancelled', previous_status: 'running' });

    gates.delete('timeout');
    gates.delete('running');
    expect((await retry(timedOut.id)).body).toMatchObject({ success: true, previous_status: 'timeout', status: 'queued' });
    expect((await retry(queued.id)).body).toMatchObject({ success: true, previous_status: 'cancelled', status: 'queued' });
    retriedBeforeStarting++;
    expect((await retry(running.id)).body).toMatchObject({ success: true, previous_status: 'cancelled', status: 'queued' });

    // The one cancelled while running is not cancelled again by the old cancel request: it completes.
    expect(await waitForStatus(engine, timedOut.id, 'completed')).toMatchObject({ retry_count: 1, error_code: null });
    expect(await waitForStatus(engine, running.id, 'completed')).toMatchObject({ retry_count: 1, error_code: null });
    // Never started before its cancel (it was delayed), so this is its first attempt; it runs now, not
    // at its old scheduled time.
    expect(await waitForStatus(engine, queued.id, 'completed')).toMatchObject({ retry_count: 0 });
  });

  it('keeps retry_count right for a task BullMQ failed at its stall limit (that last take ran nothing)', async () => {
    const task = await gated('stalled', 'fail');
    await waitForStatus(engine, task.id, 'failed');
    // What BullMQ leaves when it fails a task at the stall limit: one more take (ats), its own reason.
    const jobKey = new TaskKeys(engine.prefix).job('custom', task.id);
    await engine.redis.hset(jobKey, 'ats', '2', 'stc', '2', 'failedReason', 'job stalled more than allowable limit');
    expect((await engine.request('GET', `/tasks/${task.id}`)).body).toMatchObject({ status: 'failed', error_code: 'stalled', retry_count: 0 });
    gates.delete('stalled');
    await engine.request('POST', '/queues/custom/pause');
    try {
      expect((await retry(task.id)).body).toMatchObject({ previous_status: 'failed' });
      expect((await engine.request('GET', `/tasks/${task.id}`)).body).toMatchObject({ status: 'queued', error_code: null, retry_count: 0 });
    } finally {
      await engine.request('POST', '/queues/custom/resume');
    }
    expect(await waitForStatus(engine, task.id, 'completed')).toMatchObject({ retry_count: 1 });
  });

  it('refuses pending, queued, running and completed tasks with 409, unknown ids with 404', async () => {
    const pending = await createTask(engine, { delay_seconds: 3600 });
    const running = await gated('refuse-running', 'hang', { timeout_seconds: 60 });
    const completed = await createTask(engine, {});
    await waitForStatus(engine, running.id, 'running');
    await waitForStatus(engine, completed.id, 'completed');
    await engine.request('POST', '/queues/custom/pause');
    let queued: any;
    try {
      queued = await createTask(engine, {});
      for (const [task, status] of [[pending, 'pending'], [queued, 'queued'], [running, 'running'], [completed, 'completed']] as const) {
        const res = await retry(task.id);
        expect({ status: res.status, body: res.body }).toEqual({
          status: 409,
          body: { success: false, error: { code: 'conflict', message: `task ${task.id} cannot be retried: it is ${status}`, details: { status, reason: `it is ${status}` } } },
        });
      }
    } finally {
      await engine.request('POST', '/queues/custom/resume');
    }
    const unknown = await retry('no-such-task');
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'task_not_found' } } });
    // Nothing refused was touched.
    expect((await engine.request('GET', `/tasks/${pending.id}`)).body.status).toBe('pending');
    expect((await engine.request('POST', `/tasks/${running.id}/cancel`)).status).toBe(200);
    gates.delete('refuse-running');
    await waitForStatus(engine, queued.id, 'completed');
  });

  it('refuses a task cancelled because a dependency failed (the dependency is not completed)', async () => {
    // A handler reporting dependency_failed stands in for a cancelled dependency chain: such a task reads
    // `cancelled`, and with no dependency recorded there is none that could have completed since.
    const task = await gated('dependency', 'dependency');
    expect(await waitForStatus(engine, task.id, 'cancelled')).toMatchObject({ error_code: 'dependency_failed' });
    const res = await retry(task.id);
    expect(res).toMatchObject({ status: 409, body: { error: { code: 'conflict', details: { status: 'cancelled', reason: 'dependency not completed' } } } });
    expect((await engine.request('GET', `/tasks/${task.id}`)).body).toMatchObject({ status: 'cancelled', error_code: 'dependency_failed' });
  });
});

describe('POST /tasks/retry', () => {
  it('retries the tasks matching status and type, oldest first, up to limit; lists the ones it may not retry', async () => {
    // Failed one after the other, so their order (by finish time) is known.
    const failed: string[] = [];
    for (let i = 0; i < 3; i++) {
      const task = await gated(`bulk-${i}`, 'fail');
      await waitForStatus(engine, task.id, 'failed');
      failed.push(task.id);
    }
    const blocked = await gated('bulk-blocked', 'dependency');
    await waitForStatus(engine, blocked.id, 'cancelled');
    const command = await createTask(engine, { type: 'system_command', payload: { command: 'ls', args: ['/no/such/dir'] }, config: { max_retries: 0 } });
    await waitForStatus(engine, command.id, 'failed');
    const timedOut = await gated('bulk-timeout', 'hang', { timeout_seconds: 0.2 });
    await waitForStatus(engine, timedOut.id, 'timeout');
    const cancelled = await createTask(engine, { payload: { gate: 'bulk-cancelled' }, delay_seconds: 3600 });
    await engine.request('POST', `/tasks/${cancelled.id}/cancel`);
    // Earlier tests left a dependency_failed task behind too; every gate opens now except the blocked ones.
    for (let i = 0; i < 3; i++) gates.delete(`bulk-${i}`);
    for (const gate of ['bulk-timeout', 'bulk-cancelled']) gates.delete(gate);

    const blockedOnly = (skipped: any[]): boolean => skipped.every((s) => s.reason === 'dependency not completed');
    // The limit counts tasks retried; skipped ones (the earlier test's blocked task failed first) do not.
    const first = await bulkRetry('?task_type=custom&limit=2');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ success: true, retried: 2, task_ids: failed.slice(0, 2) });
    expect(blockedOnly(first.body.skipped)).toBe(true);
    const second = await bulkRetry('?type=custom');
    expect(second.body).toMatchObject({ retried: 1, task_ids: [failed[2]] });
    expect(blockedOnly(second.body.skipped)).toBe(true);
    // Left alone: another type, other statuses.
    expect((await engine.request('GET', `/tasks/${command.id}`)).body.status).toBe('failed');
    expect((await engine.request('GET', `/tasks/${timedOut.id}`)).body.status).toBe('timeout');

    const others = await bulkRetry('?status=timeout,cancelled');
    expect(others.body.task_ids).toEqual(expect.arrayContaining([timedOut.id, cancelled.id]));
    // dependency_failed tasks are cancelled ones: listed, not retried.
    expect(others.body.skipped).toContainEqual({ task_id: blocked.id, reason: 'dependency not completed' });
    expect(blockedOnly(others.body.skipped)).toBe(true);
    retriedBeforeStarting++; // `cancelled` never started
    const rest = await bulkRetry('');
    expect(rest.body.task_ids).toEqual([command.id]);

    for (const id of [...failed, timedOut.id, cancelled.id]) await waitForStatus(engine, id, 'completed');
    // The command fails again (its directory still does not exist), its attempt counted.
    expect(await waitForStatus(engine, command.id, 'failed')).toMatchObject({ retry_count: 1, error_code: 'nonzero_exit' });
    // Nothing more to retry but the blocked ones.
    expect((await bulkRetry('?task_type=custom')).body).toMatchObject({ retried: 0, task_ids: [] });
  });

  it('walks the failed set page by page past the tasks it may not retry', async () => {
    // [held back, failed, held back, failed, failed], finishing in that order.
    const plan: Closed[] = ['dependency', 'fail', 'dependency', 'fail', 'fail'];
    const ids: string[] = [];
    for (const [i, closed] of plan.entries()) {
      const task = await gated(`pages-${i}`, closed);
      await waitForStatus(engine, task.id, closed === 'dependency' ? 'cancelled' : 'failed');
      ids.push(task.id);
    }
    for (const [i, closed] of plan.entries()) if (closed === 'fail') gates.delete(`pages-${i}`);
    // Two entries a page: whatever earlier tests held back comes first, then these, every retry
    // shifting the pages after it.
    const retries = new TaskRetries(engine.redis, engine.store, 2);
    // Cancelled tasks sit in BullMQ's failed set too: asking for both walks one set, in finish order.
    const first = await retries.retryMatching({ statuses: ['failed', 'cancelled'], types: ['custom'], limit: 2 });
    expect(first.taskIds).toEqual([ids[1], ids[3]]);
    expect(first.skipped).toEqual(expect.arrayContaining([ids[0], ids[2]].map((id) => ({ task_id: id, reason: 'dependency not completed' }))));
    const second = await retries.retryMatching({ statuses: ['failed', 'cancelled'], types: ['custom'], limit: 2 });
    expect(second.taskIds).toEqual([ids[4]]);
    retriedByApi += 3;
    for (const i of [1, 3, 4]) await waitForStatus(engine, ids[i]!, 'completed');
  });

  it('refuses bad filters with 400 and retries nothing', async () => {
    const cases: Array<[string, string]> = [
      ['?status=completed', 'status'],
      ['?status=queued', 'status'],
      ['?task_type=nope', 'task_type'],
      ['?limit=0', 'limit'],
      ['?limit=1001', 'limit'],
      ['?limit=ten', 'limit'],
      ['?tasktype=custom', 'tasktype'],
      ['?status=failed&status=timeout', 'status'],
    ];
    for (const [query, path] of cases) {
      const res = await engine.request('POST', `/tasks/retry${query}`);
      expect({ query, status: res.status, code: res.body.error?.code }).toEqual({ query, status: 400, code: 'validation_error' });
      expect(res.body.error.details.map((d: any) => d.path)).toContain(path);
    }
  });
});

describe('/stats after retries', () => {
  it('matches a full scan of GET /tasks; lifetime counts every outcome and every retry', async () => {
    // Workers add lifetime outcomes in batches; each retry through the API took one final outcome back.
    const { scanned, stats } = await waitFor(
      async () => {
        const tasks = await listAllTasks(engine.baseUrl);
        const current = (await engine.request('GET', '/stats')).body;
        const finals = tasks.filter((t) => ['completed', 'failed', 'cancelled', 'timeout'].includes(t.status)).length;
        const { completed, failed, cancelled, timeout } = current.lifetime;
        const idle = tasks.every((t) => t.status !== 'running' && t.status !== 'queued');
        return idle && completed + failed + cancelled + timeout === finals + retriedByApi ? { scanned: tasks, stats: current } : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'every task to settle and its outcomes to be counted' },
    );
    const count = (pred: (t: any) => boolean): number => scanned.filter(pred).length;
    for (const type of TASK_TYPES) {
      for (const status of TASK_STATUSES) {
        expect([type, status, stats.by_type[type][status]]).toEqual([type, status, count((t) => t.type === type && t.status === status)]);
      }
    }
    for (const status of TASK_STATUSES) expect([status, stats[status]]).toEqual([status, count((t) => t.status === status)]);
    expect(stats.total_tasks).toBe(scanned.length);
    expect(stats.lifetime.created).toBe(scanned.length);
    // Every retry, automatic or through the API, started one more attempt, except a retry of a task
    // cancelled before it ever started: that one started its first.
    expect(stats.lifetime.retried).toBe(scanned.reduce((sum, t) => sum + t.retry_count, 0) + retriedBeforeStarting);
    expect(retriedByApi).toBeGreaterThanOrEqual(12);
  }, 30_000);
});
