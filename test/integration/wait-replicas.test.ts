// Acknowledged writes (`redis.wait_replicas`, issue 8): on a private Redis with no replica, an engine
// that wants one replica cannot have its creates confirmed. Each create (single, batch, an idempotent
// repeat), retry and schedule answers 503 `replication_timeout` after `wait_timeout_ms`, saying what
// it wrote; the API keeps serving meanwhile (the WAIT blocks only the connection creates go through).
// Once a replica is attached, repeating the creates with their client ids returns the very tasks
// written before, never duplicates, and new creates are acknowledged (201).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { startEngine, waitFor, waitForStatus, type Engine, type HttpResult } from '../support/harness.js';
import { removeDir, startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const WAIT_TIMEOUT_MS = 1000;

let master: RedisServerHandle | undefined;
let replica: RedisServerHandle | undefined;
let engine: Engine | undefined;

beforeAll(async () => {
  master = await startRedisServer();
  engine = await startEngine({
    label: 'wait-replicas',
    overrides: { redis: { url: master.url, wait_replicas: 1, wait_timeout_ms: WAIT_TIMEOUT_MS } },
    worker: { types: ['custom'], concurrency: 2 },
  });
}, 30_000);

afterAll(async () => {
  await engine?.stop().catch(() => {});
  for (const server of [replica, master]) {
    await server?.stop('SIGKILL');
    if (server) removeDir(server.dir);
  }
}, 30_000);

const echo = (id: string) => ({ id, type: 'custom', payload: { handler: 'echo', id } });

/** A 503 replication_timeout naming what was written (`task_ids`, or `schedule_id`). */
function expectShortfall(res: HttpResult, written: Record<string, unknown>): void {
  expect(res.status).toBe(503);
  expect(res.body).toMatchObject({ success: false, error: { code: 'unavailable' } });
  expect(res.body.error.details).toEqual({ reason: 'replication_timeout', replicas_confirmed: 0, replicas_wanted: 1, ...written });
}

/** Replicas the master counts as in sync (`state=online`: past the initial full sync, acknowledging). */
async function onlineReplicas(port: number): Promise<number> {
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    return (await client.info('replication')).split('\n').filter((line) => /^slave\d+:.*state=online/.test(line)).length;
  } finally {
    client.disconnect();
  }
}

describe('redis.wait_replicas', () => {
  it('answers 503 replication_timeout without a replica, keeps serving, and repeats return the one task once replicated', async () => {
    const e = engine!;

    // A single create: refused after the wait, while the API answers other requests at once.
    const started = Date.now();
    const pending = e.request('POST', '/tasks', echo('wr-single'));
    const others: Array<{ status: number; at: number }> = [];
    for (const path of ['/health', '/tasks?limit=5']) {
      const res = await e.request('GET', path);
      others.push({ status: res.status, at: Date.now() - started });
    }
    const single = await pending;
    const singleMs = Date.now() - started;
    expectShortfall(single, { task_ids: ['wr-single'] });
    expect(single.body.error.message).toMatch(/may exist on the Redis master but is not yet replicated/);
    expect(single.body.error.message).toMatch(/same client task id is safe \(idempotent/);
    expect(singleMs).toBeGreaterThanOrEqual(WAIT_TIMEOUT_MS - 50);
    // Reads are not held behind the create's WAIT (it has a connection of its own).
    expect(others.map(({ status }) => status)).toEqual([200, 200]);
    expect(Math.max(...others.map(({ at }) => at))).toBeLessThan(singleMs);

    // It is on the master: readable, and the worker runs it.
    const first = await waitForStatus(e, 'wr-single', 'completed');

    // A batch: one WAIT for its MULTI, its ids in the answer.
    const batchIds = ['wr-batch-1', 'wr-batch-2', 'wr-batch-3'];
    const batch = await e.request('POST', '/tasks/batch', { tasks: batchIds.map(echo) });
    expectShortfall(batch, { task_ids: batchIds });
    expect(batch.body.error.message).toMatch(/tasks may exist on the Redis master but are not yet replicated/);

    // Repeating a create is not an acknowledgement either while no replica has it.
    expectShortfall(await e.request('POST', '/tasks', echo('wr-single')), { task_ids: ['wr-single'] });

    // A retry of a failed task, and a schedule: applied on the master, not confirmed.
    const failing = { id: 'wr-fail', type: 'custom', payload: { handler: 'fail', message: 'no', retryable: false }, config: { max_retries: 0 } };
    expectShortfall(await e.request('POST', '/tasks', failing), { task_ids: ['wr-fail'] });
    await waitForStatus(e, 'wr-fail', 'failed');
    const retry = await e.request('POST', '/tasks/wr-fail/retry');
    expectShortfall(retry, { task_ids: ['wr-fail'] });
    expect(retry.body.error.message).toMatch(/retry was applied on the Redis master/);
    await waitFor(async () => (await e.request('GET', '/tasks/wr-fail')).body.retry_count >= 1, { what: 'the retry to run' });
    const schedule = await e.request('POST', '/schedules', { every_seconds: 3600, task: { type: 'custom', payload: { handler: 'echo' } } });
    expectShortfall(schedule, { schedule_id: expect.any(String) });
    expect((await e.request('GET', `/schedules/${schedule.body.error.details.schedule_id}`)).status).toBe(200);
    expect((await e.request('DELETE', `/schedules/${schedule.body.error.details.schedule_id}`)).status).toBe(200);

    // The process still serves, and nothing was acknowledged.
    expect((await e.request('GET', '/health')).status).toBe(200);

    // A replica joins: the same requests now return the tasks written before, acknowledged.
    replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master!.port)]);
    await waitFor(async () => (await onlineReplicas(master!.port)) >= 1, { what: 'the replica to sync' });
    const again = await e.request('POST', '/tasks', echo('wr-single'));
    expect(again.status).toBe(200);
    expect(again.body.task).toMatchObject({ id: 'wr-single', created_at: first.created_at, status: 'completed' });
    const batchAgain = await e.request('POST', '/tasks/batch', { tasks: batchIds.map(echo) });
    expect(batchAgain.status).toBe(201);
    expect(batchAgain.body.task_ids).toEqual(batchIds);
    const fresh = await e.request('POST', '/tasks', echo('wr-fresh'));
    expect(fresh.status).toBe(201);
    expect((await e.request('POST', '/tasks/wr-fail/retry')).status).toBe(200);

    // One task per id: the repeats stored nothing twice (beside them, the schedule's runs).
    const listed = await e.request('GET', '/tasks?limit=100');
    const ids: string[] = listed.body.tasks.map((task: { id: string }) => task.id);
    expect(ids.filter((id) => !id.startsWith('repeat:')).sort()).toEqual([...batchIds, 'wr-fail', 'wr-fresh', 'wr-single'].sort());
    expect((await e.request('GET', '/stats')).body.lifetime.created).toBe(listed.body.total);
  }, 60_000);
});
