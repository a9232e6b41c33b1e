// Redis Cluster (issue 8): a real 3-master cluster on loopback, two API processes and three worker
// processes configured with `redis: { mode: cluster, nodes }`, and the contract checked on it with
// requests alternating between the API replicas: every endpoint, priorities, cancel of a running task,
// a batch of two types (one MULTI per type's slot), a dependency across types (so across slots),
// retries, schedules, live events, logs, and /stats and /workers agreeing on both replicas (one replica
// configured by file, the other by environment alone). Each task type's keys share one hash slot, and
// the types' keys are found on more than one node.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { alive, createOn, readsNothingSeparated, spawnApiReplica, untilAnswering, type Replica } from '../support/api-replica.js';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster.js';
import { freePort } from '../support/redis-server.js';
import { spawnWorkerProcess, uniquePrefix, waitFor, writeConfigFile, type EngineProcess, type HttpResult } from '../support/harness.js';
import { openSse, statusesOf, type SseStream } from '../support/sse-client.js';

const FINAL = ['completed', 'failed', 'cancelled', 'timeout'];
const WORKERS = 3;
const prefix = uniquePrefix('cluster');
const processes: EngineProcess[] = [];
const streams: SseStream[] = [];
let cluster: RedisClusterHandle;
let configPath: string;
let envConfigPath: string;
let a: Replica;
let b: Replica;
/** Requests alternate between the replicas: each call goes to the other one from the last. */
let turn = 0;
const next = (): Replica => (turn++ % 2 === 0 ? a : b);

async function startApi(name: string, env: Record<string, string> = {}, config = configPath): Promise<Replica> {
  const replica = spawnApiReplica(name, config, await freePort(), env);
  processes.push(replica.process);
  await untilAnswering(replica);
  return replica;
}

/** Creates a task through the next replica in turn, or the one given. */
const create = (body: Record<string, unknown>, via = next()): Promise<any> => createOn(via, body);

async function finished(id: string, timeoutMs = 20_000): Promise<any> {
  return waitFor(
    async () => {
      const res = await next().request('GET', `/tasks/${encodeURIComponent(id)}`);
      return FINAL.includes(res.body.status) ? res.body : undefined;
    },
    { timeoutMs, intervalMs: 50, what: `task ${id} to finish` },
  );
}

const echo = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'custom', payload: { handler: 'echo' }, ...extra });
const sleep = (ms: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'custom', payload: { handler: 'sleep', duration_ms: ms }, ...extra });
const items = { type: 'data_processing', payload: { items: [{ n: 1 }, { n: 2 }, { n: 3 }], operations: [{ op: 'filter', where: { field: 'n', op: 'gte', value: 2 } }] } };

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  configPath = writeConfigFile(prefix, {
    redis: { mode: 'cluster', nodes: cluster.nodes, prefix },
    dependencies: { state_machine: { enabled: false }, oneapi: { enabled: false } },
  });
  // B finds the cluster by environment alone: REDIS_MODE and a comma list of seeds in REDIS_URL.
  envConfigPath = writeConfigFile(prefix, { redis: { prefix }, dependencies: { state_machine: { enabled: false }, oneapi: { enabled: false } } });
  const seeds = cluster.nodes.map((node) => `redis://${node}`).join(',');
  [a, b] = [await startApi('A'), await startApi('B', { REDIS_MODE: 'cluster', REDIS_URL: seeds }, envConfigPath)];
  for (let i = 0; i < WORKERS; i++) {
    processes.push(spawnWorkerProcess(configPath, { WORKER_TASK_TYPES: 'custom,data_processing', WORKER_CONCURRENCY: '2' }));
  }
  await waitFor(async () => (await a.request('GET', '/workers')).body.total === WORKERS, {
    timeoutMs: 30_000, intervalMs: 100, what: `${WORKERS} worker processes in /workers`,
  });
}, 90_000);

afterAll(async () => {
  for (const stream of streams) stream.close();
  for (const p of processes) if (alive(p)) p.child.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await cluster?.stop();
  for (const path of [configPath, envConfigPath]) if (path) rmSync(dirname(path), { recursive: true, force: true });
}, 30_000);

describe('TaskEngine on a 3-master Redis Cluster, two API processes, three workers', () => {
  it('serves health, queues, workers, metrics, the OpenAPI document, the docs and the dashboard on both replicas', async () => {
    for (const replica of [a, b]) {
      const health = await replica.request('GET', '/health');
      expect(health.body).toMatchObject({ status: 'healthy', redis: 'up', workers: WORKERS });
      const queues = await replica.request('GET', '/queues');
      expect(queues.status).toBe(200);
      expect(queues.body.queues.map((q: any) => q.type)).toEqual(expect.arrayContaining(['custom', 'data_processing']));
      const metrics = await replica.request('GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(String(metrics.body)).toMatch(/^taskengine_/m);
      expect((await replica.request('GET', '/openapi.json')).body.openapi).toMatch(/^3\.1/);
      expect((await replica.request('GET', '/docs')).status).toBe(200);
      expect((await replica.request('GET', '/admin/queues')).status).toBe(200);
    }
  });

  it('creates, reads, lists and completes tasks, and a batch of two types, whichever replica is asked', async () => {
    const single = await create(echo({ name: 'single', metadata: { via: 'A or B' } }));
    const batch = await next().request('POST', '/tasks/batch', { tasks: [echo(), items, echo(), items] });
    expect(batch.status).toBe(201);
    expect(batch.body.count).toBe(4);
    const ids: string[] = [single.id, ...batch.body.task_ids];
    const done = await Promise.all(ids.map((id) => finished(id)));
    expect(done.map((task) => task.status)).toEqual(Array(5).fill('completed'));
    expect(done[0].result).toEqual({ custom_result: 'success', payload_received: { handler: 'echo' } });
    expect(done[2].result).toEqual({ processed_items: 3, output_format: 'json', items: [{ n: 2 }, { n: 3 }] });
    const listed = await next().request('GET', '/tasks?task_type=custom,data_processing&limit=1000');
    expect(listed.body.tasks.map((task: any) => task.id)).toEqual(expect.arrayContaining(ids));
    const logs = await next().request('GET', `/tasks/${ids[0]}/logs`);
    expect(logs.status).toBe(200);
    expect(logs.body).toMatchObject({ task_id: ids[0] });
  });

  it('stores a two-type batch as one transaction per type: a full node refuses its part, a retry with the same ids completes it once', async () => {
    const fullPort = await cluster.portOfKey(`${prefix}:{data_processing}:wait`);
    expect(await cluster.portOfKey(`${prefix}:{custom}:wait`)).not.toBe(fullPort);
    // Client ids are claimed first, each in its own slot: ids whose claims live on another node, so the
    // full node refuses the data_processing part and nothing before it.
    let stamp = Date.now();
    const claimOnFullNode = async (stamp: number): Promise<boolean> =>
      (await Promise.all(['a', 'b', 'c'].map((s) => cluster.portOfKey(`${prefix}:id:split-${stamp}-${s}`)))).includes(fullPort);
    while (await claimOnFullNode(stamp)) stamp++;
    const tasks = [echo({ id: `split-${stamp}-a` }), { ...items, id: `split-${stamp}-b` }, echo({ id: `split-${stamp}-c` })];
    const full = cluster.masters.find((master) => master.port === fullPort)!;
    await cluster.configSet(full.port, 'maxmemory', '1');
    let refused: HttpResult;
    try {
      refused = await next().request('POST', '/tasks/batch', { tasks });
    } finally {
      await cluster.configSet(full.port, 'maxmemory', '0');
    }
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ code: 'unavailable', details: { reason: 'partially_stored', stored_task_ids: [`split-${stamp}-a`, `split-${stamp}-c`] } });
    expect((await next().request('GET', `/tasks/split-${stamp}-b`)).status).toBe(404);
    const retried = await next().request('POST', '/tasks/batch', { tasks });
    expect(retried.status).toBe(201);
    expect(retried.body.task_ids).toEqual(tasks.map((task) => task.id));
    const done = await Promise.all(tasks.map((task) => finished(task.id as string)));
    expect(done.map((task) => [task.status, task.retry_count])).toEqual(Array(3).fill(['completed', 0]));
  });

  it('keeps a client id idempotent across replicas and refuses a different task under it', async () => {
    const id = `cluster-idem-${Date.now()}`;
    const first = await a.request('POST', '/tasks', echo({ id }));
    const again = await b.request('POST', '/tasks', echo({ id }));
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.task.id).toBe(id);
    const other = await b.request('POST', '/tasks', sleep(10, { id }));
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('conflict');
  });

  it('starts queued tasks by priority across the workers', async () => {
    expect((await a.request('POST', '/queues/custom/pause')).status).toBe(200);
    const low = [];
    for (let i = 0; i < 6; i++) low.push(await create(sleep(300, { priority: 'low' })));
    const critical = [];
    for (let i = 0; i < 6; i++) critical.push(await create(sleep(300, { priority: 'critical' })));
    expect((await b.request('POST', '/queues/custom/resume')).status).toBe(200);
    const done = await Promise.all([...low, ...critical].map((task) => finished(task.id)));
    const started = (tasks: any[]): number[] => tasks.map((task) => Date.parse(task.started_at));
    // Six slots in all: the six critical tasks take them first, the low ones wait for a slot to free.
    expect(Math.max(...started(done.slice(6)))).toBeLessThanOrEqual(Math.min(...started(done.slice(0, 6))));
  });

  it('cancels a running task through the other replica; its handler stops', async () => {
    const task = await create(sleep(30_000), a);
    await waitFor(async () => (await b.request('GET', `/tasks/${task.id}`)).body.status === 'running', { what: 'the task to run' });
    const askedAt = Date.now();
    const cancelled = await b.request('POST', `/tasks/${task.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', previous_status: 'running' });
    const after = await a.request('GET', `/tasks/${task.id}`);
    expect(after.body).toMatchObject({ status: 'cancelled', error_code: 'cancelled' });
    expect(Date.parse(after.body.completed_at)).toBeLessThan(askedAt + 5_000);
  });

  it('runs a task of one type after its dependency of another type, i.e. across slots, and cancels after a failed one', async () => {
    const first = await create(sleep(200));
    const dependent = await create({ ...items, config: { dependencies: [first.id] } });
    expect(dependent.status).toBe('pending');
    const done = await finished(dependent.id);
    expect(done.status).toBe('completed');
    expect(Date.parse(done.started_at)).toBeGreaterThanOrEqual(Date.parse((await finished(first.id)).completed_at));
    const failing = await create({ type: 'custom', payload: { handler: 'fail', retryable: false } });
    const doomed = await create({ ...items, config: { dependencies: [failing.id] } });
    expect(await finished(doomed.id)).toMatchObject({ status: 'cancelled', error_code: 'dependency_failed' });
  });

  it('retries a failed task, singly and in bulk, from either replica', async () => {
    const failing = await create({ type: 'custom', payload: { handler: 'fail', retryable: false } });
    expect((await finished(failing.id)).status).toBe('failed');
    const retried = await next().request('POST', `/tasks/${failing.id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ previous_status: 'failed' });
    await waitFor(async () => (await next().request('GET', `/tasks/${failing.id}`)).body.retry_count >= 1 && (await finished(failing.id)).status === 'failed', {
      what: 'the retried task to fail again',
    });
    const bulk = await next().request('POST', '/tasks/retry?status=failed&task_type=custom');
    expect(bulk.status).toBe(200);
    expect(bulk.body.task_ids).toContain(failing.id);
  });

  it('streams a task\'s events on one replica while the other created it', async () => {
    const all = await openSse(`${b.url}/events?type=custom`);
    streams.push(all);
    const task = await create(sleep(300), a);
    const own = await openSse(`${b.url}/tasks/${task.id}/events`);
    streams.push(own);
    await own.ended;
    expect(statusesOf(own).at(-1)).toBe('completed');
    await all.next((event) => event.data.task_id === task.id && event.data.status === 'completed');
    expect(statusesOf(all, task.id)).toEqual(['queued', 'running', 'completed']);
  });

  it('makes one task per schedule tick whatever the replicas and workers', async () => {
    const created = await a.request('POST', '/schedules', { every_seconds: 1, task: echo() });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const runs = async (): Promise<any[]> =>
      (await next().request('GET', '/tasks?task_type=custom&limit=1000')).body.tasks.filter((task: any) => task.schedule_id === id);
    await waitFor(async () => (await runs()).filter((task) => task.status === 'completed').length >= 3, { timeoutMs: 20_000, intervalMs: 200, what: 'three runs' });
    expect((await b.request('DELETE', `/schedules/${id}`)).status).toBe(200);
    expect((await a.request('GET', `/schedules/${id}`)).status).toBe(404);
    const ticks = (await runs()).map((task) => task.scheduled_at ?? task.created_at);
    expect(new Set(ticks).size).toBe(ticks.length);
  });

  it('keeps each type in one slot, spreads the types over the nodes, and agrees on /stats and /workers', async () => {
    const byNode = await cluster.keysByNode(prefix);
    const nodesWithKeys = [...byNode.values()].filter((keys) => keys.length > 0).length;
    expect(nodesWithKeys).toBeGreaterThan(1);
    for (const type of ['custom', 'data_processing']) {
      const home = await cluster.portOfKey(`${prefix}:{${type}}:wait`);
      for (const [port, keys] of byNode) {
        const here = keys.filter((key) => key.startsWith(`${prefix}:{${type}}:`));
        if (port === home) expect(here.length).toBeGreaterThan(0);
        else expect(here).toEqual([]);
      }
    }
    // Both replicas read the same figures, once nothing runs any more.
    await waitFor(async () => (await a.request('GET', '/stats')).body.running === 0, { what: 'no task running' });
    const stats = await readsNothingSeparated(a, b, '/stats', (body) => ({ ...body, timestamp: undefined, throughput: undefined, workers: undefined }));
    expect(stats.onB).toEqual(stats.onA);
    expect((await b.request('GET', '/tasks?limit=1')).body.total).toBe(stats.onA.total_tasks);
    const [workersA, workersB] = [await a.request('GET', '/workers'), await b.request('GET', '/workers')];
    expect(workersA.body.total).toBe(WORKERS);
    expect(workersB.body.workers.map((w: any) => w.id).sort()).toEqual(workersA.body.workers.map((w: any) => w.id).sort());
  });
});
