// Task dependencies (CONTRACT section 7), on a real Redis with real BullMQ workers: a task waits
// `pending` until every dependency completed, then runs with their results in ctx.dependencies; a
// dependency that fails, is cancelled or times out cancels its dependents (error_code
// dependency_failed), level after level; it works across task types (other Redis slots), across API
// replicas, with a dependency that ended before the dependent was created, and after a process died
// between a dependency's end and its dependents' release (the janitor finishes the work).
import { afterEach, describe, expect, it } from '@jest/globals';
import { createRedis, RetentionJanitor, TaskKeys } from '@taskengine/core';
import { UnrecoverableError, Worker } from 'bullmq';
import { startEngine, waitFor, waitForStatus, type Engine } from '../support/harness.js';
import { recordingExecutors } from '../support/recording-executors.js';

const engines: Engine[] = [];
afterEach(async () => {
  // Replicas share a prefix: stop them in reverse so the first (which deletes the keys) goes last.
  for (const engine of engines.splice(0).reverse()) await engine.stop();
});

async function engineWith(options: Parameters<typeof startEngine>[0]): Promise<Engine> {
  const engine = await startEngine(options);
  engines.push(engine);
  return engine;
}

async function create(engine: Engine, body: Record<string, unknown>): Promise<any> {
  const res = await engine.request('POST', '/tasks', { type: 'custom', ...body });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.task;
}

const get = async (engine: Engine, id: string): Promise<any> => (await engine.request('GET', `/tasks/${id}`)).body;
const after = (config: Record<string, unknown> = {}, ...dependencies: string[]) => ({ config: { ...config, dependencies } });
const sleep = (ms: number) => ({ handler: 'sleep', duration_ms: ms });
const items = (n: number) => ({ items: Array.from({ length: n }, (_, i) => ({ i })), operations: [{ op: 'limit', n }] });

describe('dependencies', () => {
  it('runs a chain and a diamond across two task types in order, each seeing its dependencies\' results', async () => {
    const rec = recordingExecutors();
    const engine = await engineWith({ label: 'deps-diamond', executors: rec.executors });
    // Diamond: a -> (b, c) -> d, b of another type (another Redis slot). Chain: e -> f -> g, alternating types.
    const a = await create(engine, { payload: { ...sleep(150), tag: 'a' } });
    const b = await create(engine, { type: 'data_processing', payload: items(2), ...after({}, a.id) });
    const c = await create(engine, { payload: { tag: 'c' }, ...after({}, a.id) });
    const d = await create(engine, { payload: { tag: 'd' }, priority: 'HIGH', ...after({}, b.id, c.id) });
    const e = await create(engine, { type: 'data_processing', payload: items(1) });
    const f = await create(engine, { payload: { tag: 'f' }, ...after({}, e.id) });
    const g = await create(engine, { type: 'data_processing', payload: items(3), ...after({}, f.id) });

    // Before any worker: everything that waits reads pending, in the task, the list and the stats.
    for (const task of [b, c, d, f, g]) expect(task).toMatchObject({ status: 'pending' });
    expect(d.config.dependencies).toEqual([b.id, c.id]);
    expect(await get(engine, d.id)).toMatchObject({ status: 'pending', config: { dependencies: [b.id, c.id] }, priority_name: 'HIGH' });
    const pending = (await engine.request('GET', '/tasks?status=pending')).body;
    expect(new Set(pending.tasks.map((t: { id: string }) => t.id))).toEqual(new Set([b.id, c.id, d.id, f.id, g.id]));
    expect((await engine.request('GET', '/stats')).body).toMatchObject({ pending: 5, queued: 2, total_tasks: 7 });

    await engine.startWorker({ types: ['custom', 'data_processing'], concurrency: 5 });
    const done = await Promise.all([a, b, c, d, e, f, g].map((task) => waitForStatus(engine, task.id, ['completed', 'failed', 'cancelled'])));
    expect(done.map((task) => task.status)).toEqual(Array(7).fill('completed'));
    const [da, db, dc, dd, de, df, dg] = done;
    const startedAfter = (task: any, ...dependencies: any[]) => {
      for (const dependency of dependencies) expect(Date.parse(task.started_at)).toBeGreaterThanOrEqual(Date.parse(dependency.completed_at));
    };
    startedAfter(db, da);
    startedAfter(dc, da);
    startedAfter(dd, db, dc);
    startedAfter(df, de);
    startedAfter(dg, df);
    const seen = (id: string) => rec.runs.find((run) => run.id === id)!.dependencies;
    expect(seen(d.id)).toEqual({ [b.id]: db.result, [c.id]: dc.result });
    expect(seen(b.id)).toEqual({ [a.id]: da.result });
    expect(seen(g.id)).toEqual({ [f.id]: df.result });
    expect(seen(a.id)).toEqual({});
    expect(rec.ranIds().sort()).toEqual(done.map((task) => task.id).sort());
  });

  it('takes a dependency that completed before the dependent was created: queued at once', async () => {
    const rec = recordingExecutors();
    const engine = await engineWith({ label: 'deps-done', executors: rec.executors, worker: true });
    const a = await create(engine, { payload: { tag: 'first' } });
    const aDone = await waitForStatus(engine, a.id, 'completed');
    const b = await create(engine, after({}, a.id));
    expect(b.status).toBe('queued');
    await waitForStatus(engine, b.id, 'completed');
    expect(rec.runs.find((run) => run.id === b.id)!.dependencies).toEqual({ [a.id]: aDone.result });
  });

  it('cancels dependents level after level when a dependency fails (dependency_failed), before and after they were created', async () => {
    const rec = recordingExecutors();
    const engine = await engineWith({ label: 'deps-cascade', executors: rec.executors });
    const a = await create(engine, { payload: { handler: 'fail', message: 'boom', retryable: false } });
    const b = await create(engine, after({}, a.id));
    const c = await create(engine, { type: 'data_processing', payload: items(1), ...after({}, b.id) });
    const d = await create(engine, after({}, c.id));
    const other = await create(engine, {}); // depends on nothing: unaffected
    const e = await create(engine, after({}, other.id, d.id));
    await engine.startWorker({ types: ['custom', 'data_processing'] });
    expect(await waitForStatus(engine, a.id, 'failed')).toMatchObject({ error_code: 'handler_error' });
    for (const [task, dependency] of [[b, a], [c, b], [d, c], [e, d]] as const) {
      const ended = await waitForStatus(engine, task.id, ['cancelled', 'completed', 'failed']);
      expect(ended).toMatchObject({ status: 'cancelled', error_code: 'dependency_failed', started_at: null, retry_count: 0 });
      expect(ended.error).toContain(dependency.id);
      expect(ended.completed_at).not.toBeNull();
    }
    await waitForStatus(engine, other.id, 'completed');

    // Known at creation: 201, already cancelled.
    const late = await engine.request('POST', '/tasks', { type: 'custom', ...after({}, c.id) });
    expect(late.status).toBe(201);
    expect(late.body).toMatchObject({ status: 'cancelled', task: { status: 'cancelled', error_code: 'dependency_failed' } });
    expect(late.body.task.error).toContain(c.id);
    expect(await get(engine, late.body.task_id)).toMatchObject({ status: 'cancelled', error_code: 'dependency_failed' });

    expect(rec.ranIds().sort()).toEqual([a.id, other.id].sort());
    const stats = await waitFor(async () => {
      const body = (await engine.request('GET', '/stats')).body;
      return body.lifetime.failed === 1 ? body : undefined;
    }, { what: 'lifetime counters flushed' });
    expect(stats).toMatchObject({ completed: 1, failed: 1, cancelled: 5, pending: 0, total_tasks: 7 });
    expect(stats.lifetime).toMatchObject({ created: 7, completed: 1, failed: 1, cancelled: 5 });
    expect((await engine.request('GET', '/tasks?status=cancelled')).body.total).toBe(5);
    // A cancelled task stays final: cancelling it again is refused with its status.
    const again = await engine.request('POST', `/tasks/${b.id}/cancel`);
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'task_not_cancellable', details: { status: 'cancelled' } } } });
  });

  it('cancels dependents of a task that timed out', async () => {
    const engine = await engineWith({ label: 'deps-timeout', worker: true });
    const a = await create(engine, { payload: sleep(5000), config: { timeout_seconds: 0.2, max_retries: 0 } });
    const b = await create(engine, after({}, a.id));
    await waitForStatus(engine, a.id, 'timeout');
    expect(await waitForStatus(engine, b.id, ['cancelled', 'completed'])).toMatchObject({ status: 'cancelled', error_code: 'dependency_failed' });
  });

  it('waits for both its dependencies and its scheduled time', async () => {
    const engine = await engineWith({ label: 'deps-delay', worker: true });
    const a = await create(engine, {});
    const b = await create(engine, { delay_seconds: 2, ...after({}, a.id) });
    await waitForStatus(engine, a.id, 'completed');
    // Released from its dependencies, but its time has not come: still pending.
    expect(await get(engine, b.id)).toMatchObject({ status: 'pending', scheduled_at: b.scheduled_at });
    const done = await waitForStatus(engine, b.id, 'completed');
    expect(Date.parse(done.started_at)).toBeGreaterThanOrEqual(Date.parse(b.scheduled_at));
  });

  it('refuses a dependency of a type the API key may not use (403)', async () => {
    const key = 'deps-scope-key-0123456789';
    const engine = await engineWith({ label: 'deps-scope', overrides: { auth: { api_keys: [{ key, task_types: ['data_processing'] }] } } });
    const res = await engine.request('POST', '/tasks', { type: 'custom' }, { 'x-api-key': key });
    expect(res.status).toBe(403);
    const open = await engineWith({ prefix: engine.prefix, overrides: { auth: { api_keys: [] } } });
    const custom = await create(open, {});
    const refused = await engine.request('POST', '/tasks', { type: 'data_processing', payload: items(1), ...after({}, custom.id) }, { 'x-api-key': key });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'forbidden', details: { task_types: ['custom'] } });
  });

  it('refuses unknown and forward references with a 400 naming them, creating nothing', async () => {
    const engine = await engineWith({ label: 'deps-unknown' });
    const known = await create(engine, {});
    const unknown = await engine.request('POST', '/tasks', { type: 'custom', config: { dependencies: [known.id, 'no-such-task'] } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'validation_error' });
    expect(unknown.body.error.details).toEqual([{ path: 'config.dependencies[1]', message: 'no task no-such-task (unknown, or past retention)' }]);
    const badId = await engine.request('POST', '/tasks', { type: 'custom', config: { dependencies: ['a b'] } });
    expect(badId.status).toBe(400);
    expect(badId.body.error.details[0].path).toBe('config.dependencies[0]');
    const self = await engine.request('POST', '/tasks', { type: 'custom', id: 'self-ref', config: { dependencies: ['self-ref'] } });
    expect(self.body.error.details).toEqual([{ path: 'config.dependencies[0]', message: 'a task cannot depend on itself' }]);
    const forward = await engine.request('POST', '/tasks/batch', {
      tasks: [{ type: 'custom', id: 'fw-0', config: { dependencies: ['fw-1'] } }, { type: 'custom', id: 'fw-1' }, { type: 'custom', config: { dependencies: ['gone'] } }],
    });
    expect(forward.status).toBe(400);
    expect(forward.body.error.details).toEqual([
      { path: 'tasks[0].config.dependencies[0]', message: 'names tasks[1], later in the batch; a task may depend only on tasks before it' },
      { path: 'tasks[2].config.dependencies[0]', message: 'no task gone (unknown, or past retention)' },
    ]);
    expect((await engine.request('GET', '/stats')).body.lifetime.created).toBe(1);
    expect((await engine.request('GET', '/tasks/fw-1')).status).toBe(404);
  });

  it('lets a batch task depend on an earlier one in the same batch, and a repeat of the batch is idempotent', async () => {
    const engine = await engineWith({ label: 'deps-batch' });
    const body = {
      tasks: [
        { type: 'custom', id: 'bd-0', payload: sleep(50) },
        { type: 'data_processing', id: 'bd-1', payload: items(1), config: { dependencies: ['bd-0'] } },
        { type: 'custom', id: 'bd-2', config: { dependencies: ['bd-0', 'bd-1'] } },
      ],
    };
    const res = await engine.request('POST', '/tasks/batch', body);
    expect(res.status).toBe(201);
    expect(res.body.tasks.map((t: { status: string }) => t.status)).toEqual(['queued', 'pending', 'pending']);
    await engine.startWorker({ types: ['custom', 'data_processing'] });
    const last = await waitForStatus(engine, 'bd-2', ['completed', 'cancelled']);
    expect(last).toMatchObject({ status: 'completed', config: { dependencies: ['bd-0', 'bd-1'] } });
    expect(Date.parse(last.started_at)).toBeGreaterThanOrEqual(Date.parse((await get(engine, 'bd-1')).completed_at));
    const repeat = await engine.request('POST', '/tasks/batch', body);
    expect(repeat.status).toBe(201);
    expect(repeat.body.tasks.map((t: { status: string }) => t.status)).toEqual(['completed', 'completed', 'completed']);
    // The same id waiting for something else is a different task.
    const changed = await engine.request('POST', '/tasks', { type: 'custom', id: 'bd-2', config: { dependencies: ['bd-0'] } });
    expect(changed.status).toBe(409);
  });

  it('cancels a held task at once; it never runs, and its own dependents are cancelled with it', async () => {
    const rec = recordingExecutors();
    const engine = await engineWith({ label: 'deps-cancel', executors: rec.executors });
    const a = await create(engine, { payload: sleep(100) });
    const b = await create(engine, after({}, a.id));
    const c = await create(engine, after({}, b.id));
    const res = await engine.request('POST', `/tasks/${b.id}/cancel`);
    expect(res.body).toEqual({ success: true, task_id: b.id, status: 'cancelled', previous_status: 'pending' });
    expect(await get(engine, b.id)).toMatchObject({ status: 'cancelled', error_code: 'cancelled' });
    // The cancel answer comes after its dependents were settled.
    expect(await get(engine, c.id)).toMatchObject({ status: 'cancelled', error_code: 'dependency_failed' });
    await engine.startWorker();
    await waitForStatus(engine, a.id, 'completed');
    const next = await create(engine, after({}, a.id));
    await waitForStatus(engine, next.id, 'completed');
    expect(rec.ranIds()).not.toContain(b.id);
    expect(rec.ranIds()).not.toContain(c.id);
    expect(await get(engine, b.id)).toMatchObject({ status: 'cancelled' });
  });

  it('works across two API replicas sharing one Redis', async () => {
    const one = await engineWith({ label: 'deps-replicas' });
    const two = await engineWith({ prefix: one.prefix });
    const a = await create(one, { payload: sleep(150) });
    const b = await create(two, after({}, a.id));
    const c = await create(one, after({}, b.id));
    expect((await get(two, c.id)).status).toBe('pending');
    await one.startWorker();
    const [da, db, dc] = await Promise.all([a, b, c].map((task, i) => waitForStatus(i % 2 ? one : two, task.id, 'completed')));
    expect(Date.parse(db.started_at)).toBeGreaterThanOrEqual(Date.parse(da.completed_at));
    expect(Date.parse(dc.started_at)).toBeGreaterThanOrEqual(Date.parse(db.completed_at));
  });

  it("recovers through the janitor when a worker dies between a dependency's end and its dependents' release", async () => {
    const rec = recordingExecutors();
    const engine = await engineWith({ label: 'deps-janitor', executors: rec.executors });
    const a = await create(engine, { payload: { tag: 'a' } });
    const b = await create(engine, after({}, a.id));
    const failing = await create(engine, { payload: { tag: 'doomed' } });
    const c = await create(engine, after({}, failing.id));
    const d = await create(engine, after({}, c.id));
    // A bare BullMQ worker does what a worker SIGKILLed right after BullMQ's move leaves behind: the
    // tasks ended, nothing told their dependents.
    const connection = createRedis(engine.config, 'worker');
    const bare = new Worker(
      engine.store.keys.queueName('custom'),
      async (job) => {
        if (job.id === failing.id) throw new UnrecoverableError('[handler_error] died');
        return { bare: job.id };
      },
      { connection, prefix: engine.prefix, removeOnComplete: { count: -1 }, removeOnFail: { count: -1 } },
    );
    try {
      await waitForStatus(engine, a.id, 'completed');
      await waitForStatus(engine, failing.id, 'failed');
    } finally {
      await bare.close();
      await connection.quit();
    }
    expect(await get(engine, b.id)).toMatchObject({ status: 'pending' });
    expect(await get(engine, c.id)).toMatchObject({ status: 'pending' });

    await new RetentionJanitor(engine.redis, new TaskKeys(engine.prefix), engine.config).runOnce();
    expect((await get(engine, b.id)).status).toBe('queued');
    expect(await get(engine, c.id)).toMatchObject({ status: 'cancelled', error_code: 'dependency_failed' });
    expect(await get(engine, d.id)).toMatchObject({ status: 'cancelled', error_code: 'dependency_failed' });
    await engine.startWorker();
    await waitForStatus(engine, b.id, 'completed');
    expect(rec.runs.find((run) => run.id === b.id)!.dependencies).toEqual({ [a.id]: { bare: a.id } });
  });

  it('recovers through the janitor when the API died between storing a held task and linking it', async () => {
    const engine = await engineWith({ label: 'deps-relink' });
    const a = await create(engine, {});
    const b = await create(engine, after({}, a.id));
    // Undo the link as if it never happened: a's dependents no longer name b.
    const keys = new TaskKeys(engine.prefix);
    expect(await engine.redis.srem(keys.dependents('custom', a.id), `custom:${b.id}`)).toBe(1);
    await engine.redis.zrem(keys.unsettled('custom'), a.id);
    await engine.startWorker();
    await waitForStatus(engine, a.id, 'completed');
    expect((await get(engine, b.id)).status).toBe('pending');
    // A minute later (held tasks are linked again once, after a grace), the janitor links b.
    const later = Date.now() + 61_000;
    await new RetentionJanitor(engine.redis, keys, engine.config, undefined, () => later).runOnce();
    await waitForStatus(engine, b.id, 'completed');
  });

  it('removes a dependency\'s workflow keys with it when it leaves retention', async () => {
    const engine = await engineWith({ label: 'deps-retention', overrides: { tasks: { max_age_hours: 0.0003 } }, worker: true });
    const a = await create(engine, {});
    const b = await create(engine, after({}, a.id));
    await waitForStatus(engine, b.id, 'completed');
    const keys = new TaskKeys(engine.prefix);
    const janitor = new RetentionJanitor(engine.redis, keys, engine.config);
    await waitFor(async () => {
      await janitor.runOnce();
      return (await engine.request('GET', `/tasks/${b.id}`)).status === 404;
    }, { timeoutMs: 10_000, intervalMs: 200, what: 'both tasks to leave retention' });
    const left = await engine.redis.keys(`${engine.prefix}:{custom}:*`);
    expect(left.filter((key) => key.includes(a.id) || key.includes(b.id))).toEqual([]);
    expect(await engine.redis.zcard(keys.unsettled('custom'))).toBe(0);
  });
});
