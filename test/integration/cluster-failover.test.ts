// Redis Cluster failover (issue 8): three masters with a replica each on loopback; the master holding
// the `custom` type's slot is SIGKILLed while tasks run and wait. The cluster promotes its replica; the
// API (503 meanwhile, never hanging) and the worker follow the new slot map by themselves, and every
// task acknowledged before the kill completes. The test makes sure the replica holds those tasks before
// the kill (WAIT on that master): asynchronous replication alone may lose the last writes (README).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createTaskId, startEngine, stopWithin, tasksNotCompleted, waitFor, type Engine } from '../support/harness.js';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster.js';

let cluster: RedisClusterHandle | undefined;
let engine: Engine | undefined;

const echoTask = { type: 'custom', payload: { handler: 'echo' } };
const sleepTask = { type: 'custom', payload: { handler: 'sleep', duration_ms: 800 } };

beforeAll(async () => {
  cluster = await startRedisCluster(3, { replicas: true });
  engine = await startEngine({
    label: 'cluster-failover',
    overrides: { redis: { mode: 'cluster', nodes: cluster.nodes } },
    worker: { types: ['custom'], concurrency: 4 },
  });
}, 60_000);

afterAll(async () => {
  await stopWithin(engine, 10_000);
  await cluster?.stop();
}, 30_000);

/** Waits until the replicas of the master on `port` hold every write it has acknowledged so far. */
async function waitForReplication(port: number, key: string): Promise<void> {
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  try {
    // WAIT counts replicas that reached this connection's last write, which comes after every earlier write.
    await client.set(key, '1', 'PX', 60_000);
    expect(await client.wait(1, 5000)).toBe(1);
  } finally {
    client.disconnect();
  }
}

describe('Redis Cluster failover', () => {
  it('follows the promotion of a replica: API 503 then 201 again, the worker resumes, every acknowledged task completes', async () => {
    const e = engine!;
    const c = cluster!;
    const warmUp = await Promise.all(Array.from({ length: 5 }, () => createTaskId(engine!, echoTask)));
    expect(await tasksNotCompleted(e, warmUp, 15_000)).toEqual({});

    // Work in flight at the kill: some running on the worker, the rest waiting in the queue.
    const acknowledged = await Promise.all(Array.from({ length: 12 }, (_, i) => createTaskId(engine!, i % 3 ? sleepTask : echoTask)));
    const slotKey = `${e.prefix}:{custom}:wait`;
    const oldMaster = await c.portOfKey(slotKey);
    await waitForReplication(oldMaster, `${e.prefix}:{custom}:test-barrier`);
    c.masters.find((master) => master.port === oldMaster)!.process.kill('SIGKILL');
    const killedAt = Date.now();

    // The API fails fast while the slot has no master, then creates again once the replica took over.
    const answers: number[] = [];
    const createdAfter: string[] = [];
    let slowestMs = 0;
    await waitFor(
      async () => {
        const started = Date.now();
        const res = await e.request('POST', '/tasks', echoTask);
        slowestMs = Math.max(slowestMs, Date.now() - started);
        // Fails fast, never hangs (about 0.6 s here: five tries 100 ms apart, then 503).
        expect(Date.now() - started).toBeLessThan(2500);
        answers.push(res.status);
        if (res.status === 201) createdAfter.push(res.body.task.id);
        else expect(res.body.error.code).toBe('unavailable');
        return res.status === 201;
      },
      { timeoutMs: 40_000, intervalMs: 100, what: 'the API to create tasks again after the failover' },
    );
    const failoverMs = Date.now() - killedAt;
    console.log(`cluster failover: ${answers.filter((status) => status === 503).length} creates answered 503 (slowest ${slowestMs} ms), 201 again after ${failoverMs} ms`);
    expect(answers).toContain(503);
    const newMaster = await c.portOfKey(slotKey);
    expect(newMaster).not.toBe(oldMaster);
    expect(c.replicas.map((replica) => replica.port)).toContain(newMaster);

    // The worker found the new master too: everything acknowledged before and after the kill completes.
    createdAfter.push(...(await Promise.all(Array.from({ length: 3 }, () => createTaskId(engine!, echoTask)))));
    expect(await tasksNotCompleted(e, [...acknowledged, ...createdAfter], 30_000)).toEqual({});
    expect((await e.request('GET', '/health')).body).toMatchObject({ status: 'healthy', redis: 'up' });
    expect(failoverMs).toBeLessThan(30_000);
  }, 90_000);
});
