// Redis Sentinel (issue 8, CONTRACT section 5): the API and a worker configured with
// `redis: { mode: sentinel, sentinels, name }` run on a master watched by three sentinels. The master is
// SIGKILLed; the sentinels promote the replica, and the API (503 meanwhile, never hanging) and the worker
// follow by themselves, with no restart. Every task acknowledged (201) before the kill completes: the
// test waits (WAIT) until the replica has them, as a `min-replicas-to-write` deployment would bound it;
// without that, asynchronous replication may lose the last writes before the kill (see the README).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { startEngine, waitFor, type Engine } from '../support/harness.js';
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
    overrides: { redis: { mode: 'sentinel', sentinels: group.addresses, name: MASTER_NAME } },
    worker: { types: ['custom'], concurrency: 4 },
  });
}, 40_000);

afterAll(async () => {
  // A stop that cannot reach Redis must not keep the processes below alive.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([engine?.stop().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
  clearTimeout(timer);
  await group?.stop();
}, 30_000);

async function create(body: Record<string, unknown>): Promise<string> {
  const res = await engine!.request('POST', '/tasks', body);
  expect(res.status).toBe(201);
  return res.body.task.id as string;
}

/** Waits until every task is finished; returns the statuses of those that did not complete. */
async function waitAllFinished(ids: string[], timeoutMs: number): Promise<Record<string, string>> {
  const statuses = new Map<string, string>();
  await waitFor(
    async () => {
      for (const id of ids) {
        if (['completed', 'failed', 'cancelled'].includes(statuses.get(id) ?? '')) continue;
        const res = await engine!.request('GET', `/tasks/${id}`);
        if (res.status === 200) statuses.set(id, res.body.status);
      }
      return ids.every((id) => ['completed', 'failed', 'cancelled'].includes(statuses.get(id) ?? ''));
    },
    { timeoutMs, intervalMs: 200, what: `${ids.length} tasks to finish` },
  );
  return Object.fromEntries([...statuses].filter(([, status]) => status !== 'completed'));
}

/** Makes sure the replica holds every write the master acknowledged so far. */
async function waitForReplication(masterPort: number, prefix: string): Promise<void> {
  const client = new Redis({ port: masterPort, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    // WAIT counts the replicas that have this client's own writes; one write of ours after the API's
    // (replication is one ordered stream) makes it cover theirs too.
    await client.set(`${prefix}:replication-marker`, '1');
    const replicas = Number(await client.call('WAIT', '1', '5000'));
    expect(replicas).toBeGreaterThanOrEqual(1);
  } finally {
    client.disconnect();
  }
}

describe('Redis Sentinel', () => {
  it('follows a failover: API 503 then 201 again, worker resumes, acknowledged tasks complete', async () => {
    const e = engine!;
    const g = group!;

    const warmUp = await Promise.all(Array.from({ length: 5 }, () => create(echoTask)));
    expect(await waitAllFinished(warmUp, 15_000)).toEqual({});

    // Work in flight at the kill: some running on the worker, the rest waiting in the queue.
    const acknowledged = await Promise.all(Array.from({ length: 12 }, (_, i) => create(i % 3 ? sleepTask : echoTask)));
    await waitForReplication(g.master.port, e.prefix);
    await g.master.stop('SIGKILL');
    const killedAt = Date.now();

    // The API fails fast while there is no master, then writes to the promoted one by itself.
    const seen: number[] = [];
    const createdAfter: string[] = [];
    await waitFor(
      async () => {
        const started = Date.now();
        const res = await e.request('POST', '/tasks', echoTask);
        expect(Date.now() - started).toBeLessThan(6000);
        seen.push(res.status);
        if (res.status === 201) createdAfter.push(res.body.task.id);
        return seen.includes(503) && res.status === 201;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the API to answer 503 and then 201 again' },
    ).catch(async (err: Error) => {
      const master = await g.masterPort().catch((e: Error) => e.message);
      throw new Error(`${err.message}; statuses ${JSON.stringify(seen.slice(-5))} of ${seen.length}, sentinels name master ${master}, api redis ${e.redis.status}`);
    });
    const failoverMs = Date.now() - killedAt;
    expect(new Set(seen)).toEqual(new Set([201, 503]));
    expect(await g.masterPort()).toBe(g.replica.port);

    // The worker found the new master too: what was acknowledged before the kill, and what was created
    // after the failover, all complete.
    createdAfter.push(...(await Promise.all(Array.from({ length: 3 }, () => create(echoTask)))));
    expect(await waitAllFinished([...acknowledged, ...createdAfter], 30_000)).toEqual({});
    expect(failoverMs).toBeLessThan(30_000);
  }, 70_000);
});
