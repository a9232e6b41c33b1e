// Redis faults under load (issue 6, "prove nothing is lost"), each on a private redis-server with the
// API and a worker as real child processes:
//   - Redis SIGKILLed and restarted with AOF (appendfsync always): every task acknowledged with 201 is
//     still there afterwards and completes;
//   - Redis down for longer than the worker lock: the API answers 503 `unavailable` at once (no request
//     hangs), /health says Redis is down, the worker reconnects by itself, every acknowledged task completes;
//   - Redis full (maxmemory, noeviction): creates are refused with a 503 naming it, nothing half-written
//     remains (jobs, index entries, id claims and counters agree with the 201s), batches are all or
//     nothing, and a worker's counters survive flushes Redis refused; the engine warns at start when
//     Redis may evict keys;
//   - a connection lost between Redis running a create and its answer: 503 at once, never applied twice.
// Each fault under load prints one `RELIABILITY:` line for the README's table.
import { afterEach, describe, expect, it } from '@jest/globals';
import { readActivity, StatsRecorder, TaskKeys } from '@taskengine/core';
import { Redis } from 'ioredis';
import { request, startEngine, uniquePrefix, waitFor } from '../support/harness.js';
import { LoadClient, statusHistogram, type RequestRecord } from '../support/load-client.js';
import { startProcessEngine, type ProcessEngine } from '../support/process-engine.js';
import { removeDir, startRedisServer } from '../support/redis-server.js';
import { startReplyDroppingProxy } from '../support/reply-dropping-proxy.js';
import { auditTasks, reportReliability, waitUntilSettled } from '../support/task-audit.js';

let engine: ProcessEngine | undefined;
let load: LoadClient | undefined;

afterEach(async () => {
  await load?.stop();
  await engine?.stop();
  load = undefined;
  engine = undefined;
}, 20_000);

/** Tasks that finish at once, and some that run a while, so a fault finds tasks in every state. */
function mixedTask(label: string, n: number): Record<string, unknown> {
  const payload = n % 5 === 0 ? { handler: 'sleep', duration_ms: 400 } : { handler: 'echo', n };
  return { type: 'custom', name: `${label}-${n}`, payload, config: { max_retries: 3, retry_delay_seconds: 0 } };
}

/** Time from `since` until the end of the first create acknowledged after it. */
function firstAcknowledgedAfter(records: RequestRecord[], since: number): number | null {
  const first = records
    .filter((r) => r.startedAt >= since && r.status === 201 && r.kind !== 'read')
    .sort((a, b) => a.startedAt + a.ms - (b.startedAt + b.ms))[0];
  return first ? first.startedAt + first.ms - since : null;
}

describe('Redis SIGKILLed and restarted with AOF (appendfsync always)', () => {
  /** Every tenth request is a batch of five. */
  const AOF_BATCH = [0, 1, 2, 3, 4];

  it('keeps every task acknowledged before the kill, and runs each to completed', async () => {
    engine = await startProcessEngine({ label: 'aof-kill', redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    load = new LoadClient(engine.baseUrl, {
      loops: 4,
      createBody: (n) => (n % 10 === 3 ? { tasks: AOF_BATCH.map((i) => mixedTask('aof-batch', n * 10 + i)) } : mixedTask('aof', n)),
    });
    load.start();
    await load.acknowledgedMore(150);
    const acknowledgedBeforeKill = [...load.acknowledged];

    await engine.stopRedis('SIGKILL');
    const killedAt = Date.now();
    // The clients keep posting: they must see the outage as refusals, not hangs.
    await waitFor(() => load!.between(killedAt).some((r) => r.status === 503), { timeoutMs: 5_000, what: 'a 503 while Redis is dead' });
    await engine.restartRedis();
    const restartedAt = Date.now();
    await load.acknowledgedMore(100);
    await load.stop();

    const stats = await waitUntilSettled(engine.baseUrl, load.acknowledged.length);
    const audit = await auditTasks(engine.baseUrl, load.acknowledged);
    const creates = load.records.filter((r) => r.kind !== 'read');

    // Every task acknowledged before the kill is still there and completed; so is every later one.
    expect(acknowledgedBeforeKill.filter((id) => audit.lost.includes(id))).toEqual([]);
    expect(audit.lost).toEqual([]);
    expect(audit.repeated).toEqual([]);
    // Tasks found beyond the 201s can only come from requests in flight when Redis died: written and
    // made durable, but their answer was lost with the connection.
    const inFlightAtKill = creates
      .filter((r) => r.status !== 201 && r.startedAt <= killedAt)
      .reduce((sum, r) => sum + (r.kind === 'batch' ? AOF_BATCH.length : 1), 0);
    expect(audit.unacknowledged.length).toBeLessThanOrEqual(inFlightAtKill);
    expect(audit.listed).toHaveLength(load.acknowledged.length + audit.unacknowledged.length);
    // The API answered the outage with 503s, never a 500 or a hang.
    expect(creates.filter((r) => ![201, 503].includes(r.status))).toEqual([]);
    for (const r of creates.filter((r) => r.status === 503)) expect(r.body).toMatchObject({ success: false, error: { code: 'unavailable' } });
    // Counters agree with what is stored.
    expect(stats.total_tasks).toBe(audit.listed.length);
    expect(stats.completed).toBe(audit.listed.length);
    expect(stats.lifetime.created).toBe(audit.listed.length);

    const recoveryMs = firstAcknowledgedAfter(load.records, restartedAt);
    console.log(
      `aof-kill: ${load.acknowledged.length} acknowledged (${acknowledgedBeforeKill.length} before the kill), ` +
        `${audit.listed.length} found, ${audit.unacknowledged.length} stored but unacknowledged (in flight at the kill: ${inFlightAtKill}), ` +
        `reruns ${audit.reruns}, creates by status ${JSON.stringify(statusHistogram(creates))}`,
    );
    reportReliability('redis_sigkill_aof_always', { tasks: load.acknowledged.length, audit, recoveryMs });
  }, 60_000);
});

describe('a connection to Redis lost before the answer to a create', () => {
  it('answers 503 at once and never applies the create twice', async () => {
    const server = await startRedisServer();
    const proxy = await startReplyDroppingProxy(server.port);
    const inProcess = await startEngine({ label: 'lost-reply', overrides: { redis: { url: proxy.url } } });
    try {
      // Redis runs the create's MULTI; its answer (…QUEUED…) never arrives: the connection drops.
      proxy.dropNextReply('QUEUED');
      const started = Date.now();
      const res = await inProcess.request('POST', '/tasks', { type: 'custom', payload: { handler: 'echo' } });
      const ms = Date.now() - started;
      expect(proxy.dropped()).toBe(1);
      // The API cannot know whether the task was stored: it says so at once, and does not send it again.
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ success: false, error: { code: 'unavailable' } });
      expect(ms).toBeLessThan(1_000);

      await waitFor(async () => (await inProcess.request('GET', '/health')).status === 200, { what: 'the API to reconnect' });
      const stats = (await inProcess.request('GET', '/stats')).body;
      const list = (await inProcess.request('GET', '/tasks')).body;
      // Stored once or not at all (the drop may come before Redis read the whole MULTI), never twice,
      // and the counters agree with what is stored.
      expect(list.total).toBeLessThanOrEqual(1);
      expect({ created_counter: stats.lifetime.created, queued: stats.queued }).toEqual({ created_counter: list.total, queued: list.total });
    } finally {
      // Clean-up goes through the API's connection: let it reconnect first, or stop() fails half-way.
      await waitFor(() => inProcess.redis.status === 'ready', { what: 'the API connection before clean-up' }).catch(() => {});
      await inProcess.stop();
      await proxy.close();
      await server.stop('SIGKILL');
      removeDir(server.dir);
    }
  });
});

describe('Redis down for longer than the worker lock, under load', () => {
  // The test config's worker lock is 2 s (harness testConfigTree); the outage outlasts it, so the locks
  // of the tasks running when Redis went away have expired by the time it is back.
  const LOCK_DURATION_S = 2;
  const OUTAGE_MS = 10_000;
  /** "Within a second", with room for a loaded shared machine. */
  const ANSWER_BOUND_MS = 1_500;

  it('answers 503 unavailable at once, reports Redis down in /health, and completes every accepted task once Redis is back', async () => {
    expect(OUTAGE_MS).toBeGreaterThan(LOCK_DURATION_S * 1000);
    engine = await startProcessEngine({
      label: 'outage',
      // AOF, fsync every second (production's setting); the stop is clean, so nothing is lost to it.
      redisArgs: ['--appendonly', 'yes', '--appendfsync', 'everysec'],
      overrides: { workers: { lock_duration: LOCK_DURATION_S, stalled_interval: 1, max_stalled_count: 1, heartbeat_interval: 1 } },
    });
    const { baseUrl, worker } = engine;
    load = new LoadClient(baseUrl, { loops: 3, reads: true, createBody: (n) => mixedTask('outage', n) });
    load.start();
    await load.acknowledgedMore(60);
    // Some work is running when Redis goes, so its locks lapse during the outage.
    await waitFor(async () => (await request(baseUrl, 'GET', '/stats')).body.running > 0, { what: 'a running task' });

    await engine.stopRedis('SIGTERM');
    const downAt = Date.now();
    const healthProbes: Array<{ status: number; body: any; ms: number }> = [];
    while (Date.now() < downAt + OUTAGE_MS) {
      const started = Date.now();
      const res = await request(baseUrl, 'GET', '/health', undefined, {}, 10_000);
      healthProbes.push({ status: res.status, body: res.body, ms: Date.now() - started });
      await new Promise((resolve) => setTimeout(resolve, 250)); // probe pace, not an assertion
    }
    await engine.restartRedis();
    const upAt = Date.now();
    await load.acknowledgedMore(60);
    await load.stop();

    // While Redis was down: every request answered within the bound, with the contract's 503.
    const during = load.between(downAt, upAt);
    expect(during.filter((r) => r.status === 503).length).toBeGreaterThan(0);
    const slow = during.filter((r) => r.ms > ANSWER_BOUND_MS).map((r) => ({ kind: r.kind, status: r.status, ms: r.ms }));
    expect(slow).toEqual([]);
    for (const r of during.filter((r) => r.status !== 503)) expect([200, 201]).toContain(r.status); // answered just before or after
    for (const r of during.filter((r) => r.status === 503)) {
      expect(r.body).toEqual({ success: false, error: { code: 'unavailable', message: expect.stringMatching(/Redis/) } });
    }
    expect(load.records.filter((r) => ![200, 201, 503].includes(r.status)).map((r) => [r.kind, r.status, r.body])).toEqual([]);
    // /health said Redis was down, promptly, for the whole outage (after the first probe noticed).
    expect(healthProbes.length).toBeGreaterThan(3);
    for (const probe of healthProbes) {
      expect(probe.ms).toBeLessThanOrEqual(ANSWER_BOUND_MS);
      expect(probe).toMatchObject({ status: 503, body: { status: 'unhealthy', redis: 'down' } });
    }

    // The worker process reconnected by itself: still the same process, back in /workers, doing work.
    expect(worker!.child.exitCode).toBeNull();
    await waitFor(
      async () => ((await request(baseUrl, 'GET', '/workers')).body.workers as any[]).some((w) => w.pid === worker!.pid),
      { timeoutMs: 10_000, what: 'the worker back in /workers' },
    );
    const stats = await waitUntilSettled(baseUrl, load.acknowledged.length);
    const audit = await auditTasks(baseUrl, load.acknowledged);
    expect({ lost: audit.lost.slice(0, 10), count: audit.lost.length }).toEqual({ lost: [], count: 0 });
    expect(audit.repeated).toEqual([]);
    expect(stats.total_tasks).toBe(audit.listed.length);
    expect(stats.completed).toBe(audit.listed.length);

    const recoveryMs = firstAcknowledgedAfter(load.records, upAt);
    const maxDuring = Math.max(...during.map((r) => r.ms), ...healthProbes.map((p) => p.ms));
    console.log(
      `outage: ${OUTAGE_MS} ms down, ${during.length} requests meanwhile (${JSON.stringify(statusHistogram(during))}), slowest ${maxDuring} ms; ` +
        `${load.acknowledged.length} acknowledged, ${audit.listed.length} found, reruns ${audit.reruns}`,
    );
    reportReliability('redis_down_10s', { tasks: load.acknowledged.length, audit, recoveryMs });
  }, 60_000);
});

describe('Redis full (maxmemory with noeviction)', () => {
  /** About 4 KiB of metadata per task, so a few MB fill in a few hundred tasks. */
  const PADDING = 'x'.repeat(4096);
  const BATCH_SIZE = 10;
  /** A task with ~4 KiB of metadata; `slow` ones run past the worker lock (2 s), so Redis fills under them. */
  const fullTask = (id: string, slow = false): Record<string, unknown> => ({
    id,
    type: 'custom',
    name: id,
    payload: slow ? { handler: 'sleep', duration_ms: 2500 } : { handler: 'echo' },
    metadata: { padding: PADDING },
    config: { max_retries: 3, retry_delay_seconds: 0 },
  });

  /** Every id whose job hash, created-index entry or id claim exists in Redis. */
  async function storedTraces(engine: ProcessEngine, ids: string[]): Promise<string[]> {
    const { inspect, prefix } = engine;
    const indexed = new Set((await inspect.zrange(`${prefix}:{custom}:te:created`, '0', '-1')).map((m) => m.slice(m.indexOf(':') + 1)));
    const traces: string[] = [];
    for (const id of ids) {
      const [job, claim] = await Promise.all([inspect.exists(`${prefix}:{custom}:${id}`), inspect.exists(`${prefix}:id:${id}`)]);
      if (job) traces.push(`${id}: job`);
      if (claim) traces.push(`${id}: id claim`);
      if (indexed.has(id)) traces.push(`${id}: index entry`);
    }
    return traces;
  }

  it('refuses creates with a 503 naming it, leaves nothing half-written, and completes every accepted task once there is room', async () => {
    engine = await startProcessEngine({ label: 'oom', redisArgs: ['--maxmemory', '6mb', '--maxmemory-policy', 'noeviction'], logLevel: 'warn' });
    const { baseUrl, inspect, prefix } = engine;
    load = new LoadClient(baseUrl, {
      loops: 3,
      paceMs: 5,
      createBody: (n) =>
        n % 2 === 1
          ? { tasks: Array.from({ length: BATCH_SIZE }, (_, i) => fullTask(`oom-${n}-${i}`)) }
          : fullTask(`oom-${n}`, n % 40 === 0),
    });
    load.start();
    const refused = (kind: 'create' | 'batch'): RequestRecord[] => load!.records.filter((r) => r.kind === kind && r.status !== 201);
    await waitFor(() => refused('create').length >= 5 && refused('batch').length >= 3, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'creates and batches to be refused',
    });
    await load.stop();

    const creates = load.records;
    const refusals = creates.filter((r) => r.status !== 201);
    // A clear refusal: 503 in the contract's error body, saying Redis is out of memory.
    expect(refusals.filter((r) => r.status !== 503).map((r) => [r.kind, r.status, r.body])).toEqual([]);
    for (const r of refusals) {
      expect(r.body).toEqual({
        success: false,
        error: { code: 'unavailable', message: expect.stringMatching(/out of memory/i), details: { reason: 'redis_out_of_memory' } },
      });
    }
    console.log(`oom: refusal ${JSON.stringify(refusals[0]!.body)}`);

    // Nothing half-written: no refused id left a job, an index entry or a claim; batches are all or nothing.
    const refusedIds = refusals.flatMap((r) => r.requestedIds);
    expect(await storedTraces(engine, refusedIds)).toEqual([]);
    for (const r of creates.filter((r) => r.kind === 'batch' && r.status === 201)) expect(r.body.task_ids).toEqual(r.requestedIds);
    const acknowledged = load.acknowledged;
    const indexSize = await inspect.zcard(`${prefix}:{custom}:te:created`);
    const stats = (await request(baseUrl, 'GET', '/stats')).body;
    const list = (await request(baseUrl, 'GET', '/tasks?limit=1')).body;
    expect({ index: indexSize, stats_total: stats.total_tasks, created_counter: stats.lifetime.created, list_total: list.total }).toEqual({
      index: acknowledged.length,
      stats_total: acknowledged.length,
      created_counter: acknowledged.length,
      list_total: acknowledged.length,
    });

    // Full is not down: Redis still answers, so /health says it is up (and GET /stats, GET /tasks above work).
    const health = await request(baseUrl, 'GET', '/health');
    expect(health).toMatchObject({ status: 200, body: { status: 'healthy', redis: 'up' } });

    // The operator makes room; the engine accepts work again by itself, and a refused id is free to use.
    await inspect.config('SET', 'maxmemory', '0');
    const roomAt = Date.now();
    const retried = await waitFor(
      async () => {
        const res = await request(baseUrl, 'POST', '/tasks', { ...fullTask(refusals[0]!.requestedIds[0]!), name: 'retried with another name' });
        return res.status === 201 ? res : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'a create to succeed once Redis has room' },
    );
    const recoveryMs = Date.now() - roomAt;
    const all = [...acknowledged, retried.body.task_id as string];

    const settled = await waitUntilSettled(baseUrl, all.length);
    const audit = await auditTasks(baseUrl, all);
    expect({ lost: audit.lost.slice(0, 10), count: audit.lost.length }).toEqual({ lost: [], count: 0 });
    expect(audit.repeated).toEqual([]);
    expect(audit.unacknowledged).toEqual([]);
    expect(settled.total_tasks).toBe(all.length);
    expect(settled.lifetime.created).toBe(all.length);
    await waitFor(async () => (await request(baseUrl, 'GET', '/stats')).body.lifetime.completed === all.length, {
      timeoutMs: 5_000,
      what: 'the lifetime completed counter to count every completed task',
    });
    // Redis said noeviction, so neither process warned about the policy.
    expect(engine.api.output() + engine.worker!.output()).not.toMatch(/maxmemory-policy/);

    console.log(
      `oom: ${acknowledged.length} acknowledged before Redis was full, ${refusals.length} requests refused ` +
        `(${refusedIds.length} task ids), reruns ${audit.reruns}`,
    );
    reportReliability('redis_out_of_memory', { tasks: all.length, audit, recoveryMs });
  }, 60_000);
});

describe('a worker\'s counters while Redis is full', () => {
  it('keeps the counts of a flush Redis refused, and writes them once it has room', async () => {
    const server = await startRedisServer(['--maxmemory-policy', 'noeviction']);
    const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    try {
      const keys = new TaskKeys(uniquePrefix('counters'));
      const recorder = new StatsRecorder(client, keys); // not started: the test flushes by hand
      await client.config('SET', 'maxmemory', '1'); // full from now on
      recorder.recordFinal('custom', 'completed', 2, 5, 1);
      await expect(recorder.flush()).rejects.toThrow(/EXECABORT/);
      recorder.recordFinal('custom', 'completed', 2, 5, 1);
      await client.config('SET', 'maxmemory', '0');
      await recorder.flush();
      const { custom } = await readActivity(client, keys);
      expect(custom.lifetime).toMatchObject({ completed: 2, exec_count: 2, wait_count: 2 });
      expect(custom.completedLastMinute).toBe(2);
    } finally {
      client.disconnect();
      await server.stop('SIGKILL');
      removeDir(server.dir);
    }
  });
});

describe('eviction policy check at start', () => {
  /** The warning lines (JSON, level warn) a process logged about the policy. */
  const policyWarnings = (output: string): any[] =>
    output
      .split('\n')
      .flatMap((line) => {
        try {
          return [JSON.parse(line)];
        } catch {
          return []; // not a log line (BullMQ's own console.warn), or one still being written
        }
      })
      .filter((entry) => entry?.level === 'warn' && typeof entry.message === 'string' && entry.message.includes('maxmemory-policy'));

  it('makes the API and the worker warn when Redis may evict keys, even with CONFIG disabled', async () => {
    // CONFIG renamed away, as managed Redis services do: the policy is still read (from INFO).
    engine = await startProcessEngine({
      label: 'evict',
      redisArgs: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru', '--rename-command', 'CONFIG', ''],
      logLevel: 'warn',
    });
    const { api, worker, baseUrl } = engine;
    await expect(engine.inspect.config('GET', 'maxmemory-policy')).rejects.toThrow(/unknown command/i);
    const children = [['api', api], ['worker', worker!]] as const;
    for (const [name, child] of children) {
      const [warning] = await waitFor(() => policyWarnings(child.output()).length > 0 && policyWarnings(child.output()), {
        timeoutMs: 10_000,
        what: `the ${name} process to warn about the eviction policy`,
      });
      expect(warning).toMatchObject({ level: 'warn', service: name, maxmemory_policy: 'allkeys-lru', maxmemory_bytes: 64 * 1024 * 1024 });
      expect(warning.message).toMatch(/allkeys-lru, not noeviction/);
      expect(warning.message).toMatch(/delete keys/);
    }

    // Said once, not at every reconnect: Redis restarts, both processes reconnect, no second warning.
    await engine.stopRedis('SIGKILL');
    await engine.restartRedis();
    await waitFor(async () => (await request(baseUrl, 'GET', '/health')).status === 200, { what: 'the API to reconnect' });
    await waitFor(async () => ((await request(baseUrl, 'GET', '/workers')).body.workers ?? []).some((w: any) => w.pid === worker!.pid), {
      what: 'the worker to reconnect',
    });
    for (const [, child] of children) expect(policyWarnings(child.output())).toHaveLength(1);

    // Warned, not refused: the engine works on such a Redis.
    const created = await request(baseUrl, 'POST', '/tasks', { type: 'custom', payload: { handler: 'echo' } });
    expect(created.status).toBe(201);
    await waitFor(async () => (await request(baseUrl, 'GET', `/tasks/${created.body.task_id}`)).body.status === 'completed', {
      what: 'the task to complete',
    });
  }, 30_000);
});
