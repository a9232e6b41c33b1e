// Queue control (CONTRACT section 7, "Queues"): GET /queues, pause and resume, per-type rate limits, over
// real HTTP with real BullMQ workers (two of them, each with its own Redis connection, as two worker
// processes would have) on a real Redis. Pause and resume agree with the dashboard, which changes the
// same BullMQ state; keys scoped to task types see and control only their own queues.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TASK_TYPES } from '@taskengine/core';
import { createTask, startEngine, waitFor, waitForStatus, type Engine } from '../support/harness.js';

const DASHBOARD_QUEUES = '/admin/queues/api/queues';

const queueOf = async (engine: Engine, type: string, headers?: Record<string, string>): Promise<any> =>
  (await engine.request('GET', '/queues', undefined, headers)).body.queues.find((q: any) => q.type === type);

describe('GET /queues, pause and resume', () => {
  let engine: Engine;
  let workerIds: string[];

  beforeAll(async () => {
    engine = await startEngine({ label: 'queues', overrides: { dashboard: { read_only: false } } });
    workerIds = [(await engine.startWorker({ concurrency: 3 })).workerId, (await engine.startWorker({ concurrency: 2 })).workerId];
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it("lists every type's queue: paused state, counts as /stats has them, workers and their slots, rate limit", async () => {
    await createTask(engine, { delay_seconds: 3600 });
    const cancelled = await createTask(engine, { delay_seconds: 3600 });
    await engine.request('POST', `/tasks/${cancelled.id}/cancel`);
    await waitForStatus(engine, (await createTask(engine, {})).id, 'completed');

    const res = await engine.request('GET', '/queues');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(TASK_TYPES.length);
    expect(res.body.queues.map((q: any) => q.type)).toEqual([...TASK_TYPES]);
    const stats = (await engine.request('GET', '/stats')).body;
    for (const queue of res.body.queues) {
      expect(Object.keys(queue).sort()).toEqual(['concurrency', 'counts', 'paused', 'rate_limit', 'type', 'workers']);
      expect(queue.counts).toEqual(stats.by_type[queue.type]);
      expect(queue).toMatchObject({ paused: false, rate_limit: null });
    }
    expect(await queueOf(engine, 'custom')).toMatchObject({
      workers: 2,
      concurrency: 5,
      counts: { pending: 1, queued: 0, running: 0, completed: 1, cancelled: 1 },
    });
    expect(await queueOf(engine, 'system_command')).toMatchObject({ workers: 0, concurrency: 0 });
  });

  it('pause stops new starts on both workers while running tasks finish; resume starts the queued ones', async () => {
    const running = await Promise.all([1, 2].map(() => createTask(engine, { payload: { handler: 'sleep', duration_ms: 800 } })));
    for (const task of running) await waitForStatus(engine, task.id, 'running');

    const paused = await engine.request('POST', '/queues/custom/pause');
    expect(paused).toMatchObject({ status: 200, body: { success: true, type: 'custom', paused: true } });
    expect(await queueOf(engine, 'custom')).toMatchObject({ paused: true });
    // The dashboard reads the same state.
    const board = (await engine.request('GET', DASHBOARD_QUEUES)).body.queues.find((q: any) => q.name === '{custom}');
    expect(board.isPaused).toBe(true);

    const waiting = await Promise.all([1, 2, 3].map(() => createTask(engine, {})));
    for (const task of running) expect(await waitForStatus(engine, task.id, 'completed')).toMatchObject({ error: null });
    // Both workers are idle and alive (two heartbeats after the last running task ended), with free
    // slots and three tasks waiting: none of them has started.
    const idleSince = Date.now();
    await waitFor(
      async () => {
        const workers = (await engine.request('GET', '/workers')).body.workers.filter((w: any) => workerIds.includes(w.worker_id));
        return workers.length === 2 && workers.every((w: any) => Date.parse(w.last_heartbeat) > idleSince + 1000 && w.active_tasks === 0);
      },
      { timeoutMs: 10_000, what: 'two heartbeats of both idle workers' },
    );
    for (const task of waiting) {
      expect((await engine.request('GET', `/tasks/${task.id}`)).body).toMatchObject({ status: 'queued', started_at: null });
    }
    expect(await queueOf(engine, 'custom')).toMatchObject({ paused: true, counts: { queued: 3, running: 0 } });

    // Resumed from the dashboard: GET /queues agrees, and the waiting tasks start now, not before.
    const resumedAt = Date.now();
    expect((await engine.request('PUT', `${DASHBOARD_QUEUES}/%7Bcustom%7D/resume`)).status).toBeLessThan(300);
    expect(await queueOf(engine, 'custom')).toMatchObject({ paused: false });
    for (const task of waiting) {
      const done = await waitForStatus(engine, task.id, 'completed');
      expect(Date.parse(done.started_at)).toBeGreaterThanOrEqual(resumedAt);
    }
  });

  it('pausing twice or resuming a running queue is harmless; an unknown type is a 400', async () => {
    for (const action of ['pause', 'pause', 'resume', 'resume']) {
      const res = await engine.request('POST', `/queues/custom/${action}`);
      expect(res).toMatchObject({ status: 200, body: { type: 'custom', paused: action === 'pause' } });
    }
    const task = await createTask(engine, {});
    await waitForStatus(engine, task.id, 'completed');
    const unknown = await engine.request('POST', '/queues/nope/pause');
    expect(unknown).toMatchObject({ status: 400, body: { success: false, error: { code: 'validation_error', details: [{ path: 'type' }] } } });
    expect((await engine.request('POST', '/queues/custom/drain')).status).toBe(404);
  });
});

describe('rate limits', () => {
  let engine: Engine;
  const LIMIT = { max: 5, duration_seconds: 1 };

  beforeAll(async () => {
    engine = await startEngine({ label: 'rate-limit', overrides: { workers: { rate_limits: { custom: LIMIT } } } });
    await engine.startWorker({ concurrency: 5 });
    await engine.startWorker({ concurrency: 5 });
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it('are shown in GET /queues', async () => {
    const { queues } = (await engine.request('GET', '/queues')).body;
    for (const queue of queues) expect([queue.type, queue.rate_limit]).toEqual([queue.type, queue.type === 'custom' ? LIMIT : null]);
  });

  it('hold across both workers: 20 tasks at 5 a second take 4 windows to start', async () => {
    const batch = await engine.request('POST', '/tasks/batch', { tasks: Array.from({ length: 20 }, () => ({ type: 'custom' })) });
    expect(batch.status).toBe(201);
    const done = [];
    for (const id of batch.body.task_ids) done.push(await waitForStatus(engine, id, 'completed', 20_000));
    const starts = done.map((task) => Date.parse(task.started_at)).sort((a, b) => a - b);
    // Each window of 1 s admits 5 starts, shared by both workers (with a limit per worker, 10 would
    // start per window and 20 within 2 windows): the last of 20 starts at least 3 windows after the first.
    expect(starts[19]! - starts[0]!).toBeGreaterThanOrEqual(2800);
    // Any stretch shorter than a window overlaps at most two windows: at most 10 starts in it.
    for (const from of starts) expect(starts.filter((t) => t >= from && t < from + 950).length).toBeLessThanOrEqual(10);
    // Both workers took part.
    expect(new Set(done.map((task) => task.worker_id)).size).toBe(2);
  }, 30_000);
});

describe('keys scoped to task types', () => {
  const FULL = 'queues-full-key-0123';
  const SCOPED = 'queues-scoped-key-0123';
  const full = { authorization: `Bearer ${FULL}` };
  const scoped = { authorization: `Bearer ${SCOPED}` };
  let engine: Engine;

  beforeAll(async () => {
    engine = await startEngine({ label: 'queues-keys', overrides: { auth: { api_keys: [FULL, { key: SCOPED, task_types: ['system_command'] }] } } });
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it('see and control only their own queues', async () => {
    expect((await engine.request('GET', '/queues')).status).toBe(401);
    const own = (await engine.request('GET', '/queues', undefined, scoped)).body;
    expect(own).toMatchObject({ total: 1, queues: [{ type: 'system_command' }] });

    const refused = await engine.request('POST', '/queues/custom/pause', undefined, scoped);
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'forbidden', details: { task_types: ['custom'] } } } });
    expect(await queueOf(engine, 'custom', full)).toMatchObject({ paused: false });

    expect((await engine.request('POST', '/queues/system_command/pause', undefined, scoped)).status).toBe(200);
    expect(await queueOf(engine, 'system_command', full)).toMatchObject({ paused: true });
    expect((await engine.request('POST', '/queues/system_command/resume', undefined, scoped)).status).toBe(200);
    expect(await queueOf(engine, 'system_command', full)).toMatchObject({ paused: false });
  });

  it('retry only their own types', async () => {
    const cancelledTask = async (body: Record<string, unknown>, headers: Record<string, string>): Promise<string> => {
      const created = await engine.request('POST', '/tasks', { delay_seconds: 3600, ...body }, headers);
      expect((await engine.request('POST', `/tasks/${created.body.task_id}/cancel`, undefined, headers)).status).toBe(200);
      return created.body.task_id;
    };
    const custom = await cancelledTask({ type: 'custom' }, full);
    const command = await cancelledTask({ type: 'system_command', payload: { command: 'echo hi' } }, scoped);

    expect((await engine.request('POST', `/tasks/${custom}/retry`, undefined, scoped)).status).toBe(403);
    expect((await engine.request('POST', '/tasks/retry?status=cancelled&task_type=custom', undefined, scoped)).status).toBe(403);
    const bulk = await engine.request('POST', '/tasks/retry?status=cancelled', undefined, scoped);
    expect(bulk).toMatchObject({ status: 200, body: { retried: 1, task_ids: [command], skipped: [] } });
    expect((await engine.request('GET', `/tasks/${custom}`, undefined, full)).body.status).toBe('cancelled');
    expect((await engine.request('GET', `/tasks/${command}`, undefined, full)).body.status).toBe('queued');
  });
});
