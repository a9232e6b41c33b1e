// Ordered and capped batches (CONTRACT section 7), on a real Redis with real BullMQ workers:
// `parallel: false` chains a batch (each task depends on the one before it, proven by start and end
// times), `max_concurrency: n` lets at most n of its tasks run at once across all workers (proven by a
// handler that counts the attempts running at once, with two workers), the rest waiting `pending`.
import { afterEach, describe, expect, it } from '@jest/globals';
import { TaskEngineClient } from '@taskengine/client';
import { createRedis, RetentionJanitor, TaskKeys } from '@taskengine/core';
import { Worker } from 'bullmq';
import { startEngine, waitFor, waitForStatus, type Engine } from '../support/harness.js';
import { recordingExecutors } from '../support/recording-executors.js';

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

const sleep = (ms: number, extra: Record<string, unknown> = {}) => ({ type: 'custom', payload: { handler: 'sleep', duration_ms: ms, ...extra } });
const get = async (id: string): Promise<any> => (await engine!.request('GET', `/tasks/${id}`)).body;
const statuses = (res: { body: { tasks: Array<{ status: string }> } }) => res.body.tasks.map((task) => task.status);

async function batch(body: Record<string, unknown>): Promise<{ ids: string[]; statuses: string[] }> {
  const res = await engine!.request('POST', '/tasks/batch', body);
  if (res.status !== 201) throw new Error(`batch failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ids: res.body.task_ids, statuses: statuses(res) };
}

describe('parallel: false', () => {
  it('runs the batch as a chain: each task starts after the previous one completed, with its result', async () => {
    const rec = recordingExecutors();
    engine = await startEngine({ label: 'chain', executors: rec.executors });
    const tasks = [
      sleep(60, { step: 0 }),
      { type: 'data_processing', payload: { items: [{ n: 1 }, { n: 2 }] } },
      sleep(40, { step: 2 }),
      sleep(10, { step: 3 }),
      { type: 'custom', priority: 'LOW', payload: { step: 4 } },
    ];
    const created = await batch({ tasks, parallel: false });
    expect(created.statuses).toEqual(['queued', 'pending', 'pending', 'pending', 'pending']);
    await engine.startWorker({ types: ['custom', 'data_processing'], concurrency: 5 });
    const done = await Promise.all(created.ids.map((id) => waitForStatus(engine!, id, ['completed', 'cancelled', 'failed'])));
    expect(done.map((task) => task.status)).toEqual(Array(5).fill('completed'));
    for (let i = 1; i < done.length; i++) {
      expect(done[i].config.dependencies).toEqual([created.ids[i - 1]!]);
      expect(Date.parse(done[i].started_at)).toBeGreaterThanOrEqual(Date.parse(done[i - 1].completed_at));
      expect(rec.runs.find((run) => run.id === created.ids[i]!)!.dependencies).toEqual({ [created.ids[i - 1]!]: done[i - 1].result });
    }
    expect(done[0].config.dependencies).toBeUndefined();
    expect(rec.peak()).toBe(1);
  });

  it('stops the chain at a failure: the tasks after it end cancelled (dependency_failed) and never run', async () => {
    const rec = recordingExecutors();
    engine = await startEngine({ label: 'chain-fail', executors: rec.executors, worker: true });
    const created = await batch({
      tasks: [{ type: 'custom' }, { type: 'custom', payload: { handler: 'fail', retryable: false } }, { type: 'custom' }, { type: 'custom' }],
      parallel: false,
    });
    const done = await Promise.all(created.ids.map((id) => waitForStatus(engine!, id, ['completed', 'cancelled', 'failed'])));
    expect(done.map((task) => [task.status, task.error_code])).toEqual([
      ['completed', null],
      ['failed', 'handler_error'],
      ['cancelled', 'dependency_failed'],
      ['cancelled', 'dependency_failed'],
    ]);
    expect(rec.ranIds()).toEqual(created.ids.slice(0, 2));
  });
});

describe('max_concurrency', () => {
  it('never runs more than n tasks of the batch at once across two workers; the rest wait pending', async () => {
    const rec = recordingExecutors();
    engine = await startEngine({ label: 'cap', executors: rec.executors });
    const created = await batch({ tasks: Array.from({ length: 12 }, (_, i) => sleep(60 + (i % 3) * 30, { i })), max_concurrency: 3 });
    expect(created.statuses).toEqual([...Array(3).fill('queued'), ...Array(9).fill('pending')]);
    expect((await engine.request('GET', '/stats')).body).toMatchObject({ queued: 3, pending: 9 });
    // Two workers of two slots each: without the cap up to four would run at once, and neither alone
    // can reach the cap, so a peak of three means both took part under the one gate.
    await engine.startWorker({ concurrency: 2 });
    await engine.startWorker({ concurrency: 2 });
    const done = await Promise.all(created.ids.map((id) => waitForStatus(engine!, id, ['completed', 'failed', 'cancelled'])));
    expect(done.map((task) => task.status)).toEqual(Array(12).fill('completed'));
    expect(rec.peak()).toBe(3);
    // Cross-check with the engine's own times: at no start were more than 3 others of the batch running.
    for (const task of done) {
      const start = Date.parse(task.started_at);
      const overlapping = done.filter((other) => Date.parse(other.started_at) <= start && Date.parse(other.completed_at) > start);
      expect(overlapping.length).toBeLessThanOrEqual(3);
    }
    // Slots go in batch order: the first three ran first.
    expect(new Set(rec.ranIds().slice(0, 3))).toEqual(new Set(created.ids.slice(0, 3)));
    expect(new Set(done.map((task) => task.worker_id)).size).toBe(2);
    const keys = new TaskKeys(engine.prefix);
    // The last task's end frees its slot just after it reads completed: then the gate deletes itself
    // and no task is left with follow-up work.
    await waitFor(
      async () =>
        (await engine!.redis.keys(`${engine!.prefix}:{custom}:te:gate:*`)).length === 0 && (await engine!.redis.zcard(keys.unsettled('custom'))) === 0,
      { what: 'the gate to delete itself and no follow-up work left' },
    );
  });

  it('frees a slot when a task of the batch fails, is cancelled, or is cancelled while waiting for one', async () => {
    const rec = recordingExecutors();
    engine = await startEngine({ label: 'cap-cancel', executors: rec.executors });
    const created = await batch({
      tasks: [sleep(30_000), { type: 'custom', payload: { handler: 'fail', retryable: false } }, sleep(20), sleep(20), sleep(20)],
      max_concurrency: 2,
    });
    expect(created.statuses).toEqual(['queued', 'queued', 'pending', 'pending', 'pending']);
    // Cancel one that waits for a slot: it leaves at once and never runs.
    expect((await engine.request('POST', `/tasks/${created.ids[3]!}/cancel`)).body).toMatchObject({ status: 'cancelled', previous_status: 'pending' });
    await engine.startWorker({ concurrency: 5 });
    await waitForStatus(engine, created.ids[0]!, 'running');
    await waitForStatus(engine, created.ids[1]!, 'failed');
    // The failure's slot went to the next ready task (index 2), then to index 4 once 2 completed.
    await waitForStatus(engine, created.ids[2]!, 'completed');
    await waitForStatus(engine, created.ids[4]!, 'completed');
    expect(rec.peak()).toBe(2);
    // Cancelling the long one (running) frees its slot and the gate is gone once every task ended.
    expect((await engine.request('POST', `/tasks/${created.ids[0]!}/cancel`)).status).toBe(200);
    expect(rec.ranIds()).not.toContain(created.ids[3]!);
    await waitFor(async () => (await engine!.redis.keys(`${engine!.prefix}:{custom}:te:gate:*`)).length === 0, { what: 'the gate to go' });
  });

  it('combines with dependencies: a task whose dependency completes still waits for a free slot', async () => {
    const rec = recordingExecutors();
    engine = await startEngine({ label: 'cap-deps', executors: rec.executors });
    // Slots (2) go to cd-0 and cd-1. cd-0 ends quickly, which meets cd-3's dependency, but its slot goes
    // to cd-2 (lower index); cd-3 (another type) must wait until cd-1 or cd-2 ends.
    const created = await batch({
      tasks: [
        { ...sleep(30), id: 'cd-0' },
        { ...sleep(400), id: 'cd-1' },
        { ...sleep(400), id: 'cd-2' },
        { type: 'data_processing', id: 'cd-3', payload: { items: [{ a: 1 }] }, config: { dependencies: ['cd-0'] } },
        { type: 'custom', id: 'cd-4', config: { dependencies: ['cd-3', 'cd-2'] } },
      ],
      max_concurrency: 2,
    });
    expect(created.statuses).toEqual(['queued', 'queued', 'pending', 'pending', 'pending']);
    await engine.startWorker({ types: ['custom', 'data_processing'], concurrency: 5 });
    const done = await Promise.all(created.ids.map((id) => waitForStatus(engine!, id, ['completed', 'cancelled', 'failed'])));
    expect(done.map((task) => task.status)).toEqual(Array(5).fill('completed'));
    expect(rec.peak()).toBe(2);
    const [, d1, d2, d3, d4] = done;
    expect(Date.parse(d3.started_at)).toBeGreaterThanOrEqual(Math.min(Date.parse(d1.completed_at), Date.parse(d2.completed_at)));
    expect(Date.parse(d4.started_at)).toBeGreaterThanOrEqual(Math.max(Date.parse(d3.completed_at), Date.parse(d2.completed_at)));
  });

  it("gives a dead worker's slot to the next task through the janitor", async () => {
    engine = await startEngine({ label: 'cap-janitor' });
    const created = await batch({ tasks: [{ type: 'custom' }, { type: 'custom' }, { type: 'custom' }], max_concurrency: 1 });
    expect(created.statuses).toEqual(['queued', 'pending', 'pending']);
    // A bare BullMQ worker ends the first task and tells no one, as a worker killed right after BullMQ's move.
    const connection = createRedis(engine.config, 'worker');
    const bare = new Worker(engine.store.keys.queueName('custom'), async () => ({ bare: true }), {
      connection, prefix: engine.prefix, removeOnComplete: { count: -1 }, removeOnFail: { count: -1 },
    });
    try {
      await waitForStatus(engine, created.ids[0]!, 'completed');
    } finally {
      await bare.close();
      await connection.quit();
    }
    expect((await get(created.ids[1]!)).status).toBe('pending');
    await new RetentionJanitor(engine.redis, new TaskKeys(engine.prefix), engine.config).runOnce();
    expect((await get(created.ids[1]!)).status).toBe('queued');
    expect((await get(created.ids[2]!)).status).toBe('pending');
    await engine.startWorker();
    await waitForStatus(engine, created.ids[2]!, 'completed');
  });
});

describe('the typed client', () => {
  it('sends parallel, max_concurrency and config.dependencies', async () => {
    engine = await startEngine({ label: 'client' });
    const client = new TaskEngineClient({ url: engine.baseUrl });
    const chain = await client.createBatch([{ type: 'custom' }, { type: 'custom' }], { parallel: false });
    expect(chain.tasks.map((task) => task.status)).toEqual(['queued', 'pending']);
    const capped = await client.createBatch([{ type: 'custom' }, { type: 'custom' }, { type: 'custom' }], { maxConcurrency: 1 });
    expect(capped.tasks.map((task) => task.status)).toEqual(['queued', 'pending', 'pending']);
    const last = await client.createTask({ type: 'custom', config: { dependencies: [chain.task_ids[1]!, capped.task_ids[2]!] } });
    expect(last.status).toBe('pending');
    await engine.startWorker();
    const done = await client.waitFor(last.task_id, { timeoutMs: 15_000 });
    expect(done).toMatchObject({ status: 'completed', config: { dependencies: [chain.task_ids[1], capped.task_ids[2]] } });
  });
});

describe('the batch envelope', () => {
  it('checks parallel and max_concurrency, and documents them in the OpenAPI document', async () => {
    engine = await startEngine({ label: 'envelope' });
    const bad = await engine.request('POST', '/tasks/batch', { tasks: [{ type: 'custom' }], parallel: 'no', max_concurrency: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['max_concurrency', 'parallel']);
    expect((await engine.request('POST', '/tasks/batch', { tasks: [{ type: 'custom' }], max_concurrency: 1.5 })).status).toBe(400);
    // A cap at or above the batch's size changes nothing: every task is queued at once.
    const wide = await batch({ tasks: [{ type: 'custom' }, { type: 'custom' }], max_concurrency: 2, parallel: true });
    expect(wide.statuses).toEqual(['queued', 'queued']);
    const doc = (await engine.request('GET', '/openapi.json')).body;
    const envelope = doc.components.schemas.TaskBatchCreate.properties;
    expect(envelope.parallel).toMatchObject({ type: 'boolean' });
    expect(envelope.max_concurrency).toMatchObject({ type: 'integer', minimum: 1 });
    expect(JSON.stringify(doc.components.schemas.CustomTaskCreate)).toContain('"dependencies"');
    expect(doc.components.schemas.TaskObject.properties.config.properties.dependencies).toMatchObject({ type: 'array' });
  });
});
