// Issue 6, fault 5: the link between ONE worker and Redis is cut for longer than the lock duration.
// Worker A reaches Redis through a TCP proxy (test/support/tcp-proxy.ts), worker B directly. Tasks run
// on A; A's link is cut; B's stalled check takes them over and completes them. When A's link comes
// back, A's stale outcome must change nothing a user sees: result, worker_id and completed_at stay B's,
// /stats counts every task once, and no task runs a third time. Both ways a link breaks are covered: a
// partition (frozen, A's completion arrives after B's) and a drop (connections closed, A comes back
// while B still runs the task and must give it up).
import { afterEach, beforeAll, afterAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisUrl, startEngine, waitFor, writeConfigFile, type Engine } from '../support/harness.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { WorkerFleet, type WorkerProcess } from '../support/worker-processes.js';

// A handler that records each run outside the engine (O_APPEND to a file, so neither Redis nor the
// link under test can lose the record), runs for a while, honours its signal, and says who ran it.
const RECORD_HANDLER = `
import { appendFileSync } from 'node:fs';
export default async function record(payload, { signal, task }) {
  const note = (event) => appendFileSync(payload.runs_file, JSON.stringify({ task: task.id, pid: process.pid, event }) + '\\n');
  note('start');
  const ms = process.pid === payload.long_pid ? payload.long_ms : payload.duration_ms;
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
    });
  } catch (err) {
    note('aborted');
    throw err;
  }
  note('end');
  return { ran_on_pid: process.pid };
}
`;

interface Run {
  task: string;
  pid: number;
  event: 'start' | 'end' | 'aborted';
}

let dir: string;
let handlerPath: string;
let engine: Engine | undefined;
let fleet: WorkerFleet | undefined;
let proxy: TcpProxy | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'taskengine-faults-link-'));
  handlerPath = join(dir, 'record.mjs');
  writeFileSync(handlerPath, RECORD_HANDLER);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await fleet?.stopAll();
  await proxy?.close();
  await engine?.stop();
  fleet = undefined;
  proxy = undefined;
  engine = undefined;
}, 30_000);

function readRuns(file: string): Run[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Run);
}

const runsOf = (runs: Run[], task: string, event: Run['event']): number[] => runs.filter((r) => r.task === task && r.event === event).map((r) => r.pid);

async function getTask(id: string): Promise<any> {
  const res = await engine!.request('GET', `/tasks/${id}`);
  expect(res.status).toBe(200);
  return res.body;
}

async function waitTasks(ids: string[], ok: (task: any) => boolean, what: string, timeoutMs = 30_000): Promise<any[]> {
  return waitFor(
    async () => {
      const tasks = await Promise.all(ids.map(getTask));
      return tasks.every(ok) ? tasks : undefined;
    },
    { timeoutMs, intervalMs: 50, what },
  );
}

async function stats(): Promise<any> {
  return (await engine!.request('GET', '/stats')).body;
}

/** Lifetime counters once the workers' batched flushes hold at least `completed` completions. */
async function lifetimeOnce(completed: number): Promise<any> {
  const body = await waitFor(async () => {
    const s = await stats();
    return s.lifetime.completed >= completed ? s : undefined;
  }, { timeoutMs: 10_000, what: `lifetime.completed to reach ${completed}` });
  return body;
}

/** What A logged about a task whose lock it lost (JSON lines on its stdout). */
const lockLostLines = (w: WorkerProcess, taskId: string): number =>
  w.output().split('\n').filter((line) => line.includes('task lock lost') && line.includes(taskId)).length;

interface Setup {
  a: WorkerProcess;
  runsFile: string;
  ids: string[];
}

/** Engine (API in-process), proxy, worker A behind it, and `count` tasks all running on A. */
async function tasksRunningOnA(
  label: string,
  count: number,
  payload: (a: WorkerProcess, i: number) => Record<string, unknown>,
  config: Record<string, unknown>,
): Promise<Setup> {
  // The API validates handler names too, so it gets the same handler list as the workers.
  const overrides = { executors: { custom: { handlers: { record: handlerPath } } } };
  engine = await startEngine({ label, overrides });
  proxy = await TcpProxy.start(Number(new URL(redisUrl()).port));
  const configPath = writeConfigFile(engine.prefix, overrides);
  fleet = new WorkerFleet(engine, configPath);
  // LOG_LEVEL warn: the test reads what A says about lost locks, as an operator would.
  const a = await fleet.start({ REDIS_URL: proxy.url, LOG_LEVEL: 'warn' });
  const runsFile = join(dir, `${label}.runs.jsonl`);
  appendFileSync(runsFile, '');
  const tasks = Array.from({ length: count }, (_, i) => ({
    type: 'custom',
    name: `${label}-${i}`,
    payload: { handler: 'record', runs_file: runsFile, ...payload(a, i) },
    config,
  }));
  const res = await engine.request('POST', '/tasks/batch', { tasks });
  expect(res.status).toBe(201);
  const ids = res.body.task_ids as string[];
  await waitTasks(ids, (t) => t.status === 'running' && t.worker_id === a.workerId, `${count} tasks running on worker A`);
  // Running in Redis is not yet running in A: A may not have read the reply that hands it the task.
  // Its handler's own record says it has.
  await waitFor(() => ids.every((id) => runsOf(readRuns(runsFile), id, 'start').includes(a.pid)), { what: "A's handler to start every task" });
  return { a, runsFile, ids };
}

/**
 * The checks every variant ends with, once B has completed the tasks and A is back: A runs a new task
 * (so its link works and everything it queued while cut off has been answered), the tasks still read
 * as B left them, /stats counted each once, and no task ran a third time. The RELIABILITY line is
 * printed from what was observed before anything is asserted, so a failing run reports its figures.
 */
async function afterRecovery(fault: string, setup: Setup, b: WorkerProcess, asBLeftThem: any[], recoveryMs: number): Promise<void> {
  const { a, runsFile, ids } = setup;
  const expected = ids.length + 1; // the tasks and the probe
  // Stop B so that the probe can only run on A.
  expect(await fleet!.stop(b)).toEqual({ code: 0, signal: null });
  const probe = await engine!.request('POST', '/tasks', { type: 'custom', payload: { handler: 'record', runs_file: runsFile, duration_ms: 0 } });
  expect(probe.status).toBe(201);
  const [probed] = await waitTasks([probe.body.task_id], (t) => t.status === 'completed', 'a new task to complete on A');

  // A's recorder flushed the probe, so anything it recorded before is in Redis by now.
  const s = await lifetimeOnce(expected);
  const tasks = await Promise.all(ids.map(getTask));
  const runs = readRuns(runsFile);
  const lost = tasks.filter((t) => t.status !== 'completed').length;
  // Completions counted twice, and runs beyond A's and B's.
  const duplicates = Math.max(0, s.lifetime.completed - expected) + ids.reduce((n, id) => n + Math.max(0, runsOf(runs, id, 'start').length - 2), 0);
  console.log(`RELIABILITY: fault=${fault}, tasks=${ids.length}, lost=${lost}, duplicates=${duplicates}, recovery_ms=${recoveryMs}`);

  expect(probed.worker_id).toBe(a.workerId);
  // Nothing A sent late changed the tasks.
  expect(tasks).toEqual(asBLeftThem);
  expect(s.lifetime).toEqual({ created: expected, completed: expected, failed: 0, cancelled: 0, timeout: 0, retried: 0 });
  expect(s).toMatchObject({ total_tasks: expected, completed: expected, failed: 0, cancelled: 0, timeout: 0, running: 0 });
  expect(s.by_type.custom).toMatchObject({ completed: expected, failed: 0, cancelled: 0, timeout: 0, running: 0, queued: 0 });
  expect(s.throughput.completed_last_minute).toBe(expected);
  // The running-time histogram took one observation per completion too.
  const metrics = String((await engine!.request('GET', '/metrics')).body);
  expect(/taskengine_task_duration_seconds_count\{type="custom"\} (\d+)/.exec(metrics)?.[1]).toBe(String(expected));
  // A's own record (written each heartbeat) counts the probe alone.
  const aRecord = await waitFor(async () => (await fleet!.workers()).find((r) => r.worker_id === a.workerId && r.completed_tasks >= 1), {
    what: "A's record to count the probe",
  });
  expect(aRecord).toMatchObject({ completed_tasks: 1, failed_tasks: 0 });
  // Each task ran on A, then on B, and never again.
  for (const id of ids) {
    expect(runsOf(runs, id, 'start')).toEqual([a.pid, b.pid]);
    expect(runsOf(runs, id, 'end')).toContain(b.pid);
  }
  expect({ lost, duplicates }).toEqual({ lost: 0, duplicates: 0 });
}

describe('the link between one worker and Redis cut past the lock duration', () => {
  it('partition: B takes the tasks over and completes them; A\'s late outcomes are refused and counted nowhere', async () => {
    // Two runs end on A while it is cut off (completed), the third times out there on its only attempt
    // (A's run would last a minute; the task allows 6 s). B's runs take 2 s.
    const setup = await tasksRunningOnA(
      'link-freeze',
      3,
      (a, i) => ({ duration_ms: 2000, ...(i === 2 ? { long_pid: a.pid, long_ms: 60_000 } : {}) }),
      { timeout_seconds: 6, max_retries: 0 },
    );
    const { a, ids } = setup;
    const lockMs = engine!.config.workers.lock_duration * 1000;

    proxy!.freeze();
    const cutAt = Date.now();
    const b = await fleet!.start();
    // A's heartbeats cannot get through either: the registry drops it, as for a dead worker.
    await waitFor(async () => !(await fleet!.workers()).some((r) => r.worker_id === a.workerId), {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: 'A to leave /workers while cut off',
    });
    const done = await waitTasks(ids, (t) => t.status === 'completed', 'B to complete the tasks');
    const recoveryMs = Date.now() - cutAt;
    expect(recoveryMs).toBeGreaterThan(lockMs);
    for (const task of done) {
      expect(task).toMatchObject({ worker_id: b.workerId, result: { ran_on_pid: b.pid } });
      expect(task.retry_count).toBe(1); // the takeover started a second attempt
    }
    // A ended its runs while cut off: two completions and a timeout wait in the frozen link.
    await waitFor(
      () => {
        const runs = readRuns(setup.runsFile);
        return ids.every((id, i) => runsOf(runs, id, i === 2 ? 'aborted' : 'end').includes(a.pid));
      },
      { what: 'A to end its runs while cut off' },
    );

    proxy!.resume();
    // A's outcomes reach Redis now and are refused on the lock; A says so for every task.
    await waitFor(() => ids.every((id) => lockLostLines(a, id) > 0), { timeoutMs: 15_000, what: 'A to report its lost locks' });
    await waitFor(async () => (await fleet!.workers()).some((r) => r.worker_id === a.workerId), { what: 'A back in /workers' });

    await afterRecovery('link-partition', setup, b, done, recoveryMs);
  }, 60_000);

  it('drop: A comes back while B runs the tasks, gives them up at its next lock renewal, and counts nothing', async () => {
    // A's runs would last a minute; B's take 2.5 s. A must stop its own when it finds its locks gone.
    const setup = await tasksRunningOnA('link-drop', 2, (a) => ({ duration_ms: 2500, long_pid: a.pid, long_ms: 60_000 }), {
      timeout_seconds: 120,
      max_retries: 2,
      retry_delay_seconds: 0,
    });
    const { a, ids, runsFile } = setup;

    proxy!.drop();
    const cutAt = Date.now();
    const b = await fleet!.start();
    await waitTasks(ids, (t) => t.status === 'running' && t.worker_id === b.workerId, 'B to take the tasks over');

    proxy!.resume();
    // A reconnects; its lock renewals are refused; it aborts its runs instead of finishing them beside B.
    await waitFor(() => ids.every((id) => runsOf(readRuns(runsFile), id, 'aborted').includes(a.pid)), {
      timeoutMs: 20_000,
      what: 'A to abort its runs after its locks were refused',
    });
    await waitFor(() => ids.every((id) => lockLostLines(a, id) > 0), { what: 'A to report its lost locks' });

    const done = await waitTasks(ids, (t) => t.status === 'completed', 'B to complete the tasks');
    const recoveryMs = Date.now() - cutAt;
    for (const task of done) expect(task).toMatchObject({ worker_id: b.workerId, result: { ran_on_pid: b.pid } });
    for (const id of ids) expect(runsOf(readRuns(runsFile), id, 'end')).toEqual([b.pid]);

    await afterRecovery('link-drop', setup, b, done, recoveryMs);
  }, 60_000);
});
