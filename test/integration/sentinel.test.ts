// Redis Sentinel (issue 8, CONTRACT section 5): the API and a worker configured with
// `redis: { mode: sentinel, sentinels, name }` run on a master watched by three sentinels. The master is
// SIGKILLed; the sentinels promote the replica, and the API (503 meanwhile, never hanging) and the worker
// follow by themselves, with no restart. Every task acknowledged (201) completes, those answered in the
// very moment of the kill included: the engine answers a create only once the replica has it
// (`redis.wait_replicas: 1`, Redis's WAIT); without that, asynchronous replication may lose the last
// writes before the kill (see the README). With the replica promoted and no other left, creates are
// refused (503 `replication_timeout`) until a new replica joins.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTaskId, startEngine, stopWithin, tasksNotCompleted, waitFor, type Engine, type HttpResult } from '../support/harness.js';
import { MASTER_NAME, startSentinelGroup, type SentinelGroup } from '../support/sentinel-group.js';

let group: SentinelGroup | undefined;
let engine: Engine | undefined;

const echoTask = { type: 'custom', payload: { handler: 'echo' } };
// Long enough that several are running or queued when the master dies.
const sleepTask = { type: 'custom', payload: { handler: 'sleep', duration_ms: 800 } };

beforeAll(async () => {
  group = await startSentinelGroup();
  engine = await startEngine({
    label: 'sentinel',
    overrides: { redis: { mode: 'sentinel', sentinels: group.addresses, name: MASTER_NAME, wait_replicas: 1, wait_timeout_ms: 500 } },
    worker: { types: ['custom'], concurrency: 4 },
  });
}, 40_000);

afterAll(async () => {
  await stopWithin(engine, 10_000);
  await group?.stop();
}, 30_000);

/** Why a 503 was refused: `details.reason` (e.g. replication_timeout), else Redis was unreachable. */
const reasonOf = (res: HttpResult): string => (res.status === 503 ? (res.body?.error?.details?.reason ?? 'unreachable') : String(res.status));

describe('Redis Sentinel', () => {
  it('follows a failover: API 503 then 201 again, worker resumes, every task answered 201 (even at the kill) completes', async () => {
    const e = engine!;
    const g = group!;

    const warmUp = await Promise.all(Array.from({ length: 5 }, () => createTaskId(engine!, echoTask)));
    expect(await tasksNotCompleted(engine!, warmUp, 15_000)).toEqual({});

    // Work in flight at the kill: some running on the worker, the rest waiting in the queue.
    const acknowledged = await Promise.all(Array.from({ length: 12 }, (_, i) => createTaskId(engine!, i % 3 ? sleepTask : echoTask)));
    // And creates still coming when the master dies: a 201 answered in the last moment before the kill
    // is exactly what asynchronous replication alone could lose.
    let loading = true;
    const load = (async () => {
      while (loading) {
        const res = await e.request('POST', '/tasks', echoTask);
        if (res.status === 201) acknowledged.push(res.body.task.id);
      }
    })();
    await waitFor(() => acknowledged.length >= 20, { what: 'creates under way' });
    await g.master.stop('SIGKILL');
    const killedAt = Date.now();
    loading = false;
    await load;

    // The API fails fast while there is no master. Once the replica is promoted it has no replica
    // itself, so creates are refused (not acknowledged) until a new replica joins, then 201 again.
    const seen: string[] = [];
    const createdAfter: string[] = [];
    let replaced = false;
    await waitFor(
      async () => {
        const started = Date.now();
        const res = await e.request('POST', '/tasks', echoTask);
        expect(Date.now() - started).toBeLessThan(6000);
        seen.push(reasonOf(res));
        if (res.status === 201) createdAfter.push(res.body.task.id);
        if (res.status === 503 && reasonOf(res) === 'replication_timeout' && !replaced) {
          expect(res.body.error.details).toEqual({ reason: 'replication_timeout', replicas_confirmed: 0, replicas_wanted: 1, task_ids: [expect.any(String)] });
          replaced = true;
          await g.addReplica();
        }
        return replaced && res.status === 201;
      },
      { timeoutMs: 40_000, intervalMs: 100, what: 'the API to answer 503, then 503 replication_timeout, then 201 again' },
    ).catch(async (err: Error) => {
      const master = await g.masterPort().catch((e: Error) => e.message);
      throw new Error(`${err.message}; answers ${JSON.stringify(seen.slice(-5))} of ${seen.length}, sentinels name master ${master}, api redis ${e.redis.status}`);
    });
    const failoverMs = Date.now() - killedAt;
    // Unreachable while there was no master, then refused while the new one had no replica: the one
    // 201 is the last answer, once a replica joined. Nothing was acknowledged without a replica to hold it.
    expect(new Set(seen)).toEqual(new Set(['unreachable', 'replication_timeout', '201']));
    expect(seen.indexOf('unreachable')).toBeLessThan(seen.indexOf('replication_timeout'));
    expect(seen.filter((answer) => answer === '201')).toEqual(['201']);
    expect(await g.masterPort()).toBe(g.replica.port);

    // The worker found the new master too: every task acknowledged before, at and after the kill completes.
    createdAfter.push(...(await Promise.all(Array.from({ length: 3 }, () => createTaskId(engine!, echoTask)))));
    expect(await tasksNotCompleted(engine!, [...acknowledged, ...createdAfter], 30_000)).toEqual({});
    expect(failoverMs).toBeLessThan(30_000);
  }, 90_000);
});
