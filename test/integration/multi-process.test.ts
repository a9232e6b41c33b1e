// Several real worker processes against one Redis (CONTRACT sections 2-3, DESIGN.md "Tests"): they all
// register in GET /workers and share the work; a worker SIGKILLed mid-task loses no task (another worker
// re-runs it after the lock expires) and drops out of the registry; SIGTERM lets active tasks finish.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startEngine, spawnWorkerProcess, waitFor, writeConfigFile, type Engine, type EngineProcess } from '../support/harness.js';

let engine: Engine;
let configPath: string;
const children: EngineProcess[] = [];

function spawnWorker(): EngineProcess {
  const handle = spawnWorkerProcess(configPath, { WORKER_TASK_TYPES: 'custom', WORKER_CONCURRENCY: '4' });
  children.push(handle);
  return handle;
}

const alive = (w: EngineProcess): boolean => w.child.exitCode === null && w.child.signalCode === null;

async function listWorkers(): Promise<any[]> {
  const res = await engine.request('GET', '/workers');
  expect(res.status).toBe(200);
  return res.body.workers as any[];
}

/** Waits until the child's worker is in GET /workers; returns its worker_id. */
async function registeredId(w: EngineProcess): Promise<string> {
  const record = await waitFor(
    async () => {
      if (!alive(w)) throw new Error(`worker ${w.pid} exited: ${w.output()}`);
      return (await listWorkers()).find((r) => r.pid === w.pid);
    },
    { timeoutMs: 15_000, intervalMs: 100, what: `worker pid ${w.pid} in /workers` },
  );
  return record.worker_id as string;
}

async function submitSleeps(count: number, durationMs: number): Promise<string[]> {
  const tasks = Array.from({ length: count }, (_, i) => ({
    type: 'custom',
    name: `sleep-${durationMs}-${i}`,
    payload: { handler: 'sleep', duration_ms: durationMs },
    config: { timeout_seconds: 30, max_retries: 2, retry_delay_seconds: 0 },
  }));
  const res = await engine.request('POST', '/tasks/batch', { tasks });
  expect(res.status).toBe(201);
  expect(res.body.task_ids).toHaveLength(count);
  return res.body.task_ids as string[];
}

async function getTasks(ids: string[]): Promise<any[]> {
  return Promise.all(
    ids.map(async (id) => {
      const res = await engine.request('GET', `/tasks/${id}`);
      expect(res.status).toBe(200);
      return res.body;
    }),
  );
}

/** Waits until every task is final; returns them. */
async function waitAllFinal(ids: string[], timeoutMs: number): Promise<any[]> {
  const final = new Set(['completed', 'failed', 'cancelled', 'timeout']);
  return waitFor(
    async () => {
      const tasks = await getTasks(ids);
      return tasks.every((t) => final.has(t.status)) ? tasks : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `${ids.length} tasks to finish` },
  );
}

function killAll(): void {
  for (const w of children) if (alive(w)) w.child.kill('SIGKILL');
}

beforeAll(async () => {
  engine = await startEngine({ label: 'multiproc' });
  configPath = writeConfigFile(engine.prefix);
}, 20_000);

afterAll(async () => {
  killAll();
  await Promise.all(children.map((w) => w.exited));
  await engine?.stop();
}, 20_000);

describe('several worker processes on one Redis', () => {
  const pool: Array<EngineProcess & { id: string }> = [];

  it('lists every worker process in GET /workers and shares the work among them', async () => {
    try {
      const started = [spawnWorker(), spawnWorker(), spawnWorker()];
      const ids = await Promise.all(started.map(registeredId));
      started.forEach((w, i) => pool.push(Object.assign(w, { id: ids[i]! })));

      const res = await engine.request('GET', '/workers');
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(3);
      const pids = (res.body.workers as any[]).map((r) => r.pid).sort();
      expect(pids).toEqual(started.map((w) => w.pid).sort());
      expect(new Set(ids).size).toBe(3);
      for (const record of res.body.workers as any[]) {
        expect(record.task_types).toEqual(['custom']);
        expect(record.concurrency).toBe(4);
      }

      const taskIds = await submitSleeps(60, 150);
      const tasks = await waitAllFinal(taskIds, 20_000);
      expect(tasks.filter((t) => t.status !== 'completed')).toEqual([]);
      const ranOn = new Set(tasks.map((t) => t.worker_id));
      for (const workerId of ranOn) expect(ids).toContain(workerId);
      expect(ranOn.size).toBeGreaterThanOrEqual(2);
    } catch (err) {
      killAll();
      throw err;
    }
  }, 30_000);

  it('re-runs the tasks of a worker killed with SIGKILL, and drops it from GET /workers', async () => {
    try {
      expect(pool.filter(alive)).toHaveLength(3);
      const victim = pool[0]!;
      const taskIds = await submitSleeps(30, 1000);

      const victimTask = await waitFor(
        async () =>
          (await getTasks(taskIds)).find(
            // Started recently, so it is surely still running when the signal lands.
            (t) => t.status === 'running' && t.worker_id === victim.id && Date.now() - Date.parse(t.started_at) < 500,
          ),
        { timeoutMs: 10_000, intervalMs: 50, what: 'a task running on the victim worker' },
      );
      victim.child.kill('SIGKILL');
      const killedAt = Date.now();
      expect((await victim.exited).signal).toBe('SIGKILL');

      // Gone from the registry within 3 heartbeat intervals (1 s each here) plus slack.
      const heartbeatMs = engine.config.workers.heartbeat_interval * 1000;
      await waitFor(async () => !(await listWorkers()).some((r) => r.pid === victim.pid), {
        timeoutMs: 3 * heartbeatMs + 2_000,
        intervalMs: 100,
        what: 'the killed worker to leave /workers',
      });
      expect(Date.now() - killedAt).toBeLessThanOrEqual(3 * heartbeatMs + 2_000);
      const survivors = await listWorkers();
      expect(survivors.map((r) => r.pid).sort()).toEqual([pool[1]!.pid, pool[2]!.pid].sort());

      const tasks = await waitAllFinal(taskIds, 40_000);
      expect(tasks.filter((t) => t.status !== 'completed').map((t) => [t.id, t.status, t.error_code])).toEqual([]);
      // The task the victim was running was run again, by another worker.
      const rerun = tasks.find((t) => t.id === victimTask.id)!;
      expect(rerun.retry_count).toBeGreaterThanOrEqual(1);
      expect(rerun.worker_id).not.toBe(victim.id);
      expect(tasks.some((t) => t.retry_count >= 1)).toBe(true);
      for (const t of tasks) expect(pool.map((w) => w.id)).toContain(t.worker_id);
    } catch (err) {
      killAll();
      throw err;
    }
  }, 50_000);

  it('lets the active task finish on SIGTERM, then exits with code 0', async () => {
    try {
      // Stop the other workers gracefully, so the task can only run on the fresh one.
      const others = pool.filter(alive);
      for (const w of others) w.child.kill('SIGTERM');
      for (const w of others) expect(await w.exited).toEqual({ code: 0, signal: null });

      const fresh = spawnWorker();
      const freshId = await registeredId(fresh);
      const res = await engine.request('POST', '/tasks', {
        type: 'custom',
        payload: { handler: 'sleep', duration_ms: 1500 },
        config: { timeout_seconds: 30, max_retries: 0 },
      });
      expect(res.status).toBe(201);
      const id = res.body.task_id as string;
      await waitFor(
        async () => {
          const t = (await engine.request('GET', `/tasks/${id}`)).body;
          return t.status === 'running' && t.worker_id === freshId;
        },
        { timeoutMs: 10_000, intervalMs: 25, what: 'the task to run on the fresh worker' },
      );

      fresh.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([
        fresh.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`worker did not exit within 15 s: ${fresh.output()}`)), 15_000);
        }),
      ]).finally(() => clearTimeout(timer));
      expect(exit).toEqual({ code: 0, signal: null });

      const task = (await engine.request('GET', `/tasks/${id}`)).body;
      expect(task.status).toBe('completed');
      expect(task.worker_id).toBe(freshId);
      expect(task.retry_count).toBe(0);
      expect(task.result).not.toBeNull();
      expect((await listWorkers()).some((r) => r.pid === fresh.pid)).toBe(false);
    } catch (err) {
      killAll();
      throw err;
    }
  }, 30_000);
});
