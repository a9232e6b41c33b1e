// Issue 6, item 8: the counters stay exact. A mixed workload (completed, failed, retried, timed out,
// cancelled while queued, pending and running, delayed, on two task types) ends, and /stats (status
// counts, by type, lifetime) must equal what a full scan of GET /tasks finds. Then the known window: a
// worker records a task's timeout (the side entry that splits the failed set) and dies before BullMQ
// moves the task; the count is off by one until the janitor's reconcile drops the entry.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineEngineCommands, outcomeGraceMs, RetentionJanitor, TASK_STATUSES, TASK_TYPES, TaskKeys } from '@taskengine/core';
import { createTask, startEngine, waitFor, waitForStatus, writeConfigFile, type Engine } from '../support/harness.js';
import { WorkerFleet } from '../support/worker-processes.js';

const FINAL = ['completed', 'failed', 'cancelled', 'timeout'];
const FLAKY = `export default async function flaky(payload, { task }) {
  if (task.attempt === 1) throw Object.assign(new Error('first attempt fails'), { code: 'flaky' });
  return { attempt: task.attempt };
}`;

let dir: string;
let engine: Engine;
let overrides: Record<string, unknown>;
const created: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'taskengine-counters-'));
  writeFileSync(join(dir, 'flaky.mjs'), FLAKY);
  mkdirSync(join(dir, 'work'));
  overrides = {
    executors: { custom: { handlers: { flaky: join(dir, 'flaky.mjs') } }, system_command: { workdir: join(dir, 'work') } },
  };
  engine = await startEngine({ label: 'counters', overrides });
}, 20_000);

afterAll(async () => {
  await engine?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 20_000);

async function submit(body: Record<string, unknown>): Promise<string> {
  const task = await createTask(engine, body);
  created.push(task.id);
  return task.id as string;
}

/** Every task GET /tasks returns, page by page (small pages, so paging itself is checked too). */
async function scanAll(): Promise<any[]> {
  const tasks: any[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: any } = await engine.request('GET', `/tasks?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status).toBe(200);
    tasks.push(...res.body.tasks);
    cursor = res.body.next_cursor;
  } while (cursor);
  expect(new Set(tasks.map((t) => t.id)).size).toBe(tasks.length);
  return tasks;
}

/** /stats once every final task is in the workers' batched lifetime counters. */
async function settledStats(finals: number): Promise<any> {
  return waitFor(
    async () => {
      const s = (await engine.request('GET', '/stats')).body;
      const { completed, failed, cancelled, timeout } = s.lifetime;
      return completed + failed + cancelled + timeout >= finals ? s : undefined;
    },
    { timeoutMs: 10_000, what: `${finals} final outcomes in lifetime counters` },
  );
}

/**
 * The status counts, by type and in total, must be those of a full scan; lifetime too (nothing left
 * retention). `restarts`: attempts started after a worker died, which retry_count counts and
 * lifetime.retried (retries of failed attempts) does not.
 */
async function expectStatsMatchScan(restarts = 0): Promise<{ scanned: any[]; stats: any }> {
  const scanned = await scanAll();
  const count = (pred: (t: any) => boolean): number => scanned.filter(pred).length;
  const stats = await settledStats(count((t) => FINAL.includes(t.status)));
  for (const type of TASK_TYPES) {
    for (const status of TASK_STATUSES) {
      expect([type, status, stats.by_type[type][status]]).toEqual([type, status, count((t) => t.type === type && t.status === status)]);
    }
  }
  for (const status of TASK_STATUSES) expect([status, stats[status]]).toEqual([status, count((t) => t.status === status)]);
  expect(stats.total_tasks).toBe(scanned.length);
  expect((await engine.request('GET', '/tasks?limit=1')).body.total).toBe(scanned.length);
  for (const status of TASK_STATUSES) {
    expect([status, (await engine.request('GET', `/tasks?status=${status}&limit=1`)).body.total]).toEqual([status, stats[status]]);
  }
  expect(stats.lifetime).toEqual({
    created: scanned.length,
    completed: count((t) => t.status === 'completed'),
    failed: count((t) => t.status === 'failed'),
    cancelled: count((t) => t.status === 'cancelled'),
    timeout: count((t) => t.status === 'timeout'),
    // No task here was cancelled while waiting for a retry, so every retry started.
    retried: scanned.reduce((sum, t) => sum + t.retry_count, 0) - restarts,
  });
  return { scanned, stats };
}

describe('counters under a mixed workload', () => {
  it('match a full scan of GET /tasks: by status, by type and lifetime', async () => {
    // Queued before any worker runs, so these two are cancelled while queued for sure.
    const queuedCancels = [await submit({}), await submit({ priority: 'LOW' })];
    for (const id of queuedCancels) {
      expect((await engine.request('POST', `/tasks/${id}/cancel`)).body).toMatchObject({ status: 'cancelled', previous_status: 'queued' });
    }
    const pendingCancels = [await submit({ delay_seconds: 600 }), await submit({ delay_seconds: 600 })];
    for (const id of pendingCancels) {
      expect((await engine.request('POST', `/tasks/${id}/cancel`)).body).toMatchObject({ status: 'cancelled', previous_status: 'pending' });
    }
    const stillPending = await submit({ delay_seconds: 600 });
    const sleepy = { handler: 'sleep', duration_ms: 5000 };
    const fast = { retry_delay_seconds: 0.05, backoff: 'fixed' };
    const toFinish = [
      ...(await Promise.all([1, 2, 3, 4].map(() => submit({})))), // completed
      await submit({ delay_seconds: 1 }), // delayed, then completed
      await submit({ payload: { handler: 'fail', retryable: false }, config: { max_retries: 3 } }), // failed at once
      await submit({ payload: { handler: 'fail' }, config: { max_retries: 2, ...fast } }), // failed after 2 retries
      await submit({ payload: { handler: 'flaky' }, config: { max_retries: 1, ...fast } }), // retried, then completed
      await submit({ payload: { handler: 'flaky' }, config: { max_retries: 1, ...fast } }),
      await submit({ payload: sleepy, config: { timeout_seconds: 0.5, max_retries: 0 } }), // timeout
      await submit({ payload: sleepy, config: { timeout_seconds: 0.5, max_retries: 1, ...fast } }), // retried, then timeout
      await submit({ type: 'system_command', payload: { command: 'echo counted' } }),
      await submit({ type: 'system_command', payload: { command: 'ls', args: ['/no/such/dir'] } }), // failed, with its output
      await submit({ type: 'system_command', payload: { command: 'sleep 5' }, config: { timeout_seconds: 0.5, max_retries: 0 } }),
    ];
    const runningCancels = [
      await submit({ payload: { handler: 'sleep', duration_ms: 30_000 }, config: { timeout_seconds: 60 } }),
      await submit({ payload: { handler: 'sleep', duration_ms: 30_000 }, config: { timeout_seconds: 60 } }),
    ];

    await engine.startWorker({ types: ['custom', 'system_command'], concurrency: 4 });
    for (const id of runningCancels) {
      await waitForStatus(engine, id, 'running');
      const res = await engine.request('POST', `/tasks/${id}/cancel`);
      expect(res.body).toMatchObject({ status: 'cancelled', previous_status: 'running' });
    }
    for (const id of toFinish) await waitForStatus(engine, id, FINAL, 20_000);

    const { scanned, stats } = await expectStatsMatchScan();
    expect(scanned).toHaveLength(created.length);
    // The workload reached every outcome it was built for.
    expect(stats).toMatchObject({ pending: 1, queued: 0, running: 0, completed: 8, failed: 3, cancelled: 6, timeout: 3 });
    expect(stats.lifetime.retried).toBe(5);
    expect((await engine.request('GET', `/tasks/${stillPending}`)).body.status).toBe('pending');
    // A failed attempt's result is kept (the worker writes it while it holds the task's lock).
    const ls = scanned.find((t) => t.type === 'system_command' && t.status === 'failed');
    expect(ls).toMatchObject({ error_code: 'nonzero_exit', result: { exit_code: 2 } });
  }, 45_000);

  it('repairs the count a worker leaves when it dies between recording a timeout and the move', async () => {
    const keys = new TaskKeys(engine.prefix);
    // The in-process worker stops, so the task runs on a worker process that can be killed.
    await engine.worker!.stop(0);
    const fleet = new WorkerFleet(engine, writeConfigFile(engine.prefix, overrides));
    try {
      const doomed = await fleet.start();
      const id = await submit({ payload: { handler: 'sleep', duration_ms: 3000 }, config: { timeout_seconds: 30, max_retries: 2 } });
      await waitFor(async () => (await engine.request('GET', `/tasks/${id}`)).body.worker_id === doomed.workerId, {
        what: 'the task to run on the worker process',
      });
      // What that worker writes at a final timeout, just before BullMQ's move; then it dies: no move.
      await engine.redis.zadd(keys.timedOut('custom'), Date.now(), id);
      doomed.child.kill('SIGKILL');
      await doomed.exited;

      // Another worker recovers the task once the dead one's lock expires, and completes it.
      await engine.startWorker({ types: ['custom', 'system_command'], concurrency: 4 });
      const done = await waitForStatus(engine, id, 'completed', 20_000);
      expect(done.retry_count).toBe(1);

      // The side entry is read as one more timeout, taken off the failed count (both come from BullMQ's
      // failed set): three failed tasks read as two.
      expect((await engine.request('GET', '/stats')).body).toMatchObject({ timeout: 4, failed: 2, completed: 9 });

      // Within the grace the entry stays (a move may still land); past it, it is dropped.
      const janitorAt = (now: () => number): RetentionJanitor => new RetentionJanitor(engine.redis, keys, engine.config, 15_000, now);
      await janitorAt(Date.now).runOnce();
      expect((await engine.request('GET', '/stats')).body.timeout).toBe(4);
      const later = janitorAt(() => Date.now() + outcomeGraceMs(engine.config) + 1000);
      // The worker's own janitor may hold the type's lock for a moment: run until the pass is ours.
      await waitFor(
        async () => {
          await later.runOnce();
          return (await engine.request('GET', '/stats')).body.timeout === 3;
        },
        { timeoutMs: 10_000, intervalMs: 200, what: 'the reconcile to drop the stale timeout entry' },
      );
      const { stats } = await expectStatsMatchScan(1);
      expect(stats).toMatchObject({ timeout: 3, failed: 3, completed: 9 });
    } finally {
      await fleet.stopAll();
    }
  }, 45_000);

  it('reconciles in bounded steps, looking at each entry once it is older than the grace', async () => {
    // A type no task of this file uses, so the entries below are the only ones; times an hour ahead,
    // so the janitors running meanwhile (their limit is now - grace) leave them to this test.
    const keys = new TaskKeys(engine.prefix);
    const t0 = Date.now() + 3_600_000;
    const redis = defineEngineCommands(engine.redis);
    const k = (suffix: string): string => keys.bull('network_request', suffix);
    const failedAs = async (id: string, reason: string): Promise<void> => {
      await redis.zadd(k('failed'), 1, id);
      await redis.hset(k(id), 'failedReason', reason);
    };
    // Kept: failed as their entry says (three share one score, more than a step's budget of 2).
    for (const id of ['kept-1', 'kept-2', 'kept-3']) {
      await failedAs(id, '[timeout] attempt ran past timeout_seconds');
      await redis.zadd(k('te:timeout'), t0 + 100, id);
    }
    // Dropped: not failed at all, or failed otherwise than the entry says.
    await redis.zadd(k('te:timeout'), t0 + 100, 'gone-1', t0 + 101, 'gone-2', t0 + 102, 'gone-3', t0 + 5000, 'later');
    await failedAs('other-reason', '[timeout] timed out, not cancelled');
    await redis.zadd(k('te:cancelled'), t0 + 100, 'other-reason');

    const pass = async (upTo: number): Promise<{ removed: number; calls: number }> => {
      let removed = 0;
      for (let calls = 1; ; calls++) {
        const [n, more] = await redis.te_reconcileOutcomes(k('failed'), k('te:cancelled'), k('te:timeout'), k('te:outcomes-checked'), k(''), upTo, 2);
        removed += n;
        if (!more) return { removed, calls };
        expect(calls).toBeLessThan(20);
      }
    };
    const first = await pass(t0 + 1000);
    expect(first.removed).toBe(4);
    expect(first.calls).toBeGreaterThan(1);
    expect(await redis.zrange(k('te:timeout'), '0', '-1')).toEqual(['kept-1', 'kept-2', 'kept-3', 'later']);
    expect(await redis.zcard(k('te:cancelled'))).toBe(0);
    // Up to the same time again: nothing left to look at.
    expect(await pass(t0 + 1000)).toEqual({ removed: 0, calls: 1 });
    // Later, the entry written after the first pass's limit is looked at too.
    expect((await pass(t0 + 6000)).removed).toBe(1);
    expect(await redis.zrange(k('te:timeout'), '0', '-1')).toEqual(['kept-1', 'kept-2', 'kept-3']);
  });
});
