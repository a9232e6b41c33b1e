// The TypeScript client (packages/client) against a real API and worker on a real Redis: every method,
// the error mapping, the paging iterator, waitFor, and retries that cannot create a task twice.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  httpFetch,
  TaskEngineApiError,
  TaskEngineClient,
  TaskEngineNetworkError,
  TaskEngineWaitTimeoutError,
  type TaskObject,
} from '@taskengine/client';
import { freePort } from '../support/redis-server.js';
import { startEngine, waitForStatus, type Engine } from '../support/harness.js';

let engine: Engine;
let client: TaskEngineClient;

beforeAll(async () => {
  engine = await startEngine({ label: 'client', worker: true });
  client = new TaskEngineClient({ url: engine.baseUrl });
});
afterAll(async () => {
  await engine.stop();
});

/** Catches what a promise rejects with (and fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

describe('TaskEngineClient', () => {
  it('creates a task, waits for it and reads it back', async () => {
    const created = await client.createTask({ type: 'custom', name: 'hello', priority: 'high', payload: { handler: 'echo', n: 1 } });
    expect(created).toMatchObject({ success: true, status: 'queued', task: { name: 'hello', priority: 1, priority_name: 'HIGH' } });
    const seen: TaskObject[] = [];
    const done = await client.waitFor(created.task_id, { timeoutMs: 15_000, intervalMs: 50, onProgress: (task) => seen.push(task) });
    expect(done).toMatchObject({ status: 'completed', result: { custom_result: 'success', payload_received: { handler: 'echo', n: 1 } } });
    expect(seen.at(-1)).toEqual(done);
    expect(await client.getTask(created.task_id)).toEqual(done);
  });

  it('makes creates idempotent with a client id: a repeat returns the task, a different body is a conflict', async () => {
    const first = await client.createTask({ type: 'custom', id: 'client-idem-1', payload: { n: 1 } });
    const again = await client.createTask({ type: 'custom', id: 'client-idem-1', payload: { n: 1 } });
    expect(again.task_id).toBe('client-idem-1');
    expect(again.task.created_at).toBe(first.task.created_at);
    const conflict = await rejection(client.createTask({ type: 'custom', id: 'client-idem-1', payload: { n: 2 } }));
    expect(conflict).toBeInstanceOf(TaskEngineApiError);
    expect(conflict).toMatchObject({ status: 409, code: 'conflict' });
  });

  it('retries a create whose answer was lost without creating the task twice', async () => {
    let calls = 0;
    // The first request reaches the server, but its answer is "lost" on the way back.
    const lossy: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (++calls === 1) throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
      return response;
    };
    const flaky = new TaskEngineClient({ url: engine.baseUrl, fetch: lossy });
    const before = (await client.stats()).lifetime.created;
    const created = await flaky.createTask({ type: 'custom', payload: { handler: 'echo' } });
    expect(calls).toBe(2);
    expect((await client.stats()).lifetime.created).toBe(before + 1);
    expect((await client.getTask(created.task_id)).id).toBe(created.task_id);
  });

  it('creates a batch, and maps a bad batch to a validation error with details (nothing created)', async () => {
    const batch = await client.createBatch([{ type: 'custom' }, { type: 'custom', priority: 0 }]);
    expect(batch).toMatchObject({ success: true, count: 2 });
    expect(batch.tasks.map((t) => t.task_id)).toEqual(batch.task_ids);
    const before = (await client.stats()).lifetime.created;
    const err = await rejection(client.createBatch([{ type: 'custom' }, { type: 'custom', config: { max_retries: 99 } }]));
    expect(err).toBeInstanceOf(TaskEngineApiError);
    expect(err).toMatchObject({ status: 400, code: 'validation_error' });
    expect(err.problems).toEqual([expect.objectContaining({ path: 'tasks[1].config.max_retries' })]);
    expect((await client.stats()).lifetime.created).toBe(before);
  });

  it('maps an unknown id to 404 task_not_found', async () => {
    const err = await rejection(client.getTask('no-such-task'));
    expect(err).toBeInstanceOf(TaskEngineApiError);
    expect(err).toMatchObject({ status: 404, code: 'task_not_found', message: 'task no-such-task not found' });
    expect(await rejection(client.cancelTask('no-such-task'))).toMatchObject({ status: 404, code: 'task_not_found' });
  });

  it('cancels a queued and a running task; a second cancel is task_not_cancellable', async () => {
    const later = await client.createTask({ type: 'custom', delay_seconds: 3600 });
    expect(await client.cancelTask(later.task_id)).toEqual({ success: true, task_id: later.task_id, status: 'cancelled', previous_status: 'pending' });
    const again = await rejection(client.cancelTask(later.task_id));
    expect(again).toMatchObject({ status: 409, code: 'task_not_cancellable', details: { status: 'cancelled' } });

    const sleeper = await client.createTask({ type: 'custom', payload: { handler: 'sleep', duration_ms: 30_000 } });
    await waitForStatus(engine, sleeper.task_id, 'running');
    const answer = await client.cancelTask(sleeper.task_id);
    expect(answer).toMatchObject({ success: true, task_id: sleeper.task_id });
    expect((await client.waitFor(sleeper.task_id, { timeoutMs: 15_000, intervalMs: 50 })).status).toBe('cancelled');
  });

  it('retries one task or many, lists the queues, pauses and resumes one', async () => {
    const later = await client.createTask({ type: 'custom', delay_seconds: 3600 });
    await client.cancelTask(later.task_id);
    expect(await client.retryTask(later.task_id)).toEqual({ success: true, task_id: later.task_id, status: 'queued', previous_status: 'cancelled' });
    expect((await client.waitFor(later.task_id, { timeoutMs: 15_000, intervalMs: 50 })).status).toBe('completed');
    const refused = await rejection(client.retryTask(later.task_id));
    expect(refused).toMatchObject({ status: 409, code: 'conflict', details: { status: 'completed' } });

    // system_command has no worker here, so what is retried stays queued where it can be seen.
    const command = await client.createTask({ type: 'system_command', payload: { command: 'echo hi' }, delay_seconds: 3600 });
    await client.cancelTask(command.task_id);
    expect(await client.retryTasks({ status: ['cancelled', 'timeout'], type: 'system_command', limit: 10 })).toEqual({
      success: true, retried: 1, task_ids: [command.task_id], skipped: [],
    });
    expect(await client.pauseQueue('system_command')).toEqual({ success: true, type: 'system_command', paused: true });
    const { queues, total } = await client.queues();
    expect(total).toBe(queues.length);
    expect(queues.find((q) => q.type === 'system_command')).toMatchObject({ paused: true, workers: 0, counts: { queued: 1 } });
    expect(queues.find((q) => q.type === 'custom')).toMatchObject({ paused: false, workers: 1 });
    expect(await client.resumeQueue('system_command')).toEqual({ success: true, type: 'system_command', paused: false });
  });

  it('gives up waiting after timeoutMs with the last state seen, and stops on an aborted signal', async () => {
    const sleeper = await client.createTask({ type: 'custom', payload: { handler: 'sleep', duration_ms: 30_000 } });
    const err = await rejection(client.waitFor(sleeper.task_id, { timeoutMs: 300, intervalMs: 50 }));
    expect(err).toBeInstanceOf(TaskEngineWaitTimeoutError);
    expect(err.lastTask?.id).toBe(sleeper.task_id);
    const controller = new AbortController();
    const waiting = client.waitFor(sleeper.task_id, { signal: controller.signal, intervalMs: 50 });
    controller.abort();
    expect((await rejection(waiting)).name).toBe('AbortError');
    await client.cancelTask(sleeper.task_id);
  });

  it('keeps waiting through a short outage of the API, and gives up on a longer one', async () => {
    const task = await client.createTask({ type: 'custom', payload: { handler: 'echo' } });
    let failures = 0;
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    // The first four requests find the API down (the client itself does not retry: retries 0).
    const outage: typeof fetch = async (input, init) => {
      if (failures < 4) {
        failures++;
        throw new TypeError('fetch failed', { cause: refused });
      }
      return fetch(input, init);
    };
    const patient = new TaskEngineClient({ url: engine.baseUrl, fetch: outage, retries: 0 });
    expect((await patient.waitFor(task.task_id, { intervalMs: 20, timeoutMs: 15_000 })).status).toBe('completed');
    expect(failures).toBe(4);
    failures = 0;
    const impatient = await rejection(patient.waitFor(task.task_id, { outageToleranceMs: 0 }));
    expect(impatient).toMatchObject({ name: 'TaskEngineNetworkError', reason: 'ECONNREFUSED' });
  });

  it('reads stats, workers and health', async () => {
    const stats = await client.stats();
    expect(stats.total_tasks).toBeGreaterThan(0);
    expect(stats.by_type.custom.completed).toBeGreaterThan(0);
    const workers = await client.workers();
    expect(workers.total).toBe(1);
    expect(workers.workers[0]!.task_types).toContain('custom');
    expect(await client.health()).toMatchObject({ status: 'healthy', redis: 'up', workers: 1 });
  });

  it('sends the key as a bearer token', async () => {
    const seen: Array<string | null> = [];
    const spy: typeof fetch = async (input, init) => {
      seen.push(new Headers(init?.headers).get('authorization'));
      return fetch(input, init);
    };
    await new TaskEngineClient({ url: engine.baseUrl, apiKey: 'k-123', fetch: spy }).health();
    expect(seen).toEqual(['Bearer k-123']);
  });

  it('names the address and the reason when the API cannot be reached', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const err = await rejection(new TaskEngineClient({ url, retries: 0 }).getTask('x'));
    expect(err).toBeInstanceOf(TaskEngineNetworkError);
    expect(err.reason).toBe('ECONNREFUSED');
    expect(err.message).toBe(`cannot reach TaskEngine at ${url} (GET /tasks/x): ECONNREFUSED`);
  });
});

describe('httpFetch (the CLI\'s transport on node:http)', () => {
  it('gives the same answers and errors as fetch', async () => {
    const viaHttp = new TaskEngineClient({ url: engine.baseUrl, fetch: httpFetch, retries: 0 });
    // Delayed, so both reads see the same state.
    const created = await viaHttp.createTask({ type: 'custom', delay_seconds: 3600 });
    expect(await viaHttp.getTask(created.task_id)).toEqual(await client.getTask(created.task_id));
    expect(await rejection(viaHttp.getTask('no-such-task'))).toMatchObject({ status: 404, code: 'task_not_found' });
    const bad = await rejection(viaHttp.createTask({ type: 'custom', config: { timeout_seconds: -1 } }));
    expect(bad.problems).toEqual([expect.objectContaining({ path: 'config.timeout_seconds' })]);
    const refused = await rejection(new TaskEngineClient({ url: `http://127.0.0.1:${await freePort()}`, fetch: httpFetch, retries: 0 }).stats());
    expect(refused).toMatchObject({ name: 'TaskEngineNetworkError', reason: 'ECONNREFUSED' });
    const aborted = await rejection(viaHttp.stats({ signal: AbortSignal.abort() }));
    expect(aborted.name).toBe('AbortError');
  });
});

describe('TaskEngineClient paging', () => {
  let quiet: Engine;
  beforeAll(async () => {
    quiet = await startEngine({ label: 'client-paging' });
  });
  afterAll(async () => {
    await quiet.stop();
  });

  it('iterates over every task exactly once, across pages and within a batch sharing one created_at', async () => {
    const paging = new TaskEngineClient({ url: quiet.baseUrl });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await paging.createTask({ type: 'custom', payload: { i } })).task_id);
    ids.push(...(await paging.createBatch(Array.from({ length: 20 }, (_, i) => ({ type: 'custom' as const, payload: { i } })))).task_ids);
    ids.push((await paging.createTask({ type: 'custom', priority: 'low' })).task_id);

    const seen: string[] = [];
    for await (const task of paging.iterateTasks({ limit: 7 })) seen.push(task.id);
    expect(seen).toHaveLength(ids.length);
    expect(new Set(seen)).toEqual(new Set(ids));

    let pages = 0;
    for await (const page of paging.listTaskPages({ limit: 7, type: 'custom', status: ['queued', 'pending'] })) {
      pages++;
      expect(page.total).toBe(ids.length);
    }
    expect(pages).toBe(Math.ceil(ids.length / 7));
    const first = await paging.listTasks({ limit: 5 });
    expect(first).toMatchObject({ count: 5, total: ids.length, filters: { status: null, type: null } });
    expect(first.next_cursor).toEqual(expect.any(String));
  });
});

describe('TaskEngineClient schedules', () => {
  it('creates, lists, gets and deletes a schedule', async () => {
    const created = await client.createSchedule({
      name: 'weekday standup', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', task: { type: 'custom', payload: { handler: 'echo' } },
    });
    expect(created).toMatchObject({ success: true, id: created.schedule.id, schedule: { name: 'weekday standup', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', runs: 0 } });
    expect(await client.getSchedule(created.id)).toEqual(created.schedule);
    const list = await client.listSchedules();
    expect(list.schedules.map((s) => s.id)).toContain(created.id);
    expect(list.total).toBe(list.schedules.length);
    expect(await client.deleteSchedule(created.id)).toEqual({ success: true, id: created.id, deleted: true });
    const gone = await rejection(client.getSchedule(created.id));
    expect(gone).toBeInstanceOf(TaskEngineApiError);
    expect(gone).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('maps a refused schedule to a TaskEngineApiError naming each problem', async () => {
    const err = await rejection(client.createSchedule({ every_seconds: 60, cron: '* * * * *', task: { type: 'custom', payload: { handler: 'sleep' } } }));
    expect(err).toMatchObject({ status: 400, code: 'validation_error' });
    expect((err as TaskEngineApiError).problems.map((p) => p.path).sort()).toEqual(['every_seconds', 'task.payload.duration_ms']);
  });
});
