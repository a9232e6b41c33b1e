// Many API replicas (issue 8 item 3): two API processes on one Redis prefix, no balancer, one worker
// process, and every request sent to one replica or the other in turn. Cancel, idempotent ids, the
// request rate limit, schedules, live events, /stats and /workers must read the same whichever replica
// answers, because everything they rest on lives in Redis: the queues and task records, the id claims,
// the cancel marks and channel, the rate-limit counters, the job schedulers, the event streams, the
// counters and the worker registry. A third and fourth API process (same prefix, rate limit switched
// on) hold the shared request budget, so the first pair can poll freely.
//
// Every engine process here is a real child process (apps/*/dist/main.js), as in production: nothing an
// API replica keeps in its own memory can leak to the other through a shared module or connection.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../support/redis-server.js';
import {
  spawnWorkerProcess,
  uniquePrefix,
  waitFor,
  writeConfigFile,
  type EngineProcess,
} from '../support/harness.js';
import { openSse, statusesOf, type SseStream } from '../support/sse-client.js';
import { alive, createOn, readsNothingSeparated, spawnApiReplica, untilAnswering, type Replica } from '../support/api-replica.js';


const FINAL = ['completed', 'failed', 'cancelled', 'timeout'];
const RATE_MAX = 5;
const RATE_WINDOW_SECONDS = 60;

const prefix = uniquePrefix('replicas');
const configPaths: string[] = [];
const processes: EngineProcess[] = [];
const opened: SseStream[] = [];
let a: Replica;
let b: Replica;
/** The rate-limited pair, on the same prefix. */
let c: Replica;
let d: Replica;
let worker: EngineProcess;

const uid = (label: string): string => `${label}-${randomBytes(4).toString('hex')}`;
const tasksPath = (id: string): string => `/tasks/${encodeURIComponent(id)}`;

async function taskOn(replica: Replica, id: string): Promise<any> {
  const res = await replica.request('GET', tasksPath(id));
  if (res.status !== 200) throw new Error(`GET ${tasksPath(id)} on ${replica.name}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function stats(replica: Replica): Promise<any> {
  const res = await replica.request('GET', '/stats');
  if (res.status !== 200) throw new Error(`GET /stats on ${replica.name}: ${res.status}`);
  return res.body;
}

/**
 * /stats once the lifetime counters, which the worker writes in batches (every 250 ms), have caught up
 * with the tasks (nothing in this file fails, times out or is retried, so each outcome is counted once).
 */
async function settledStats(replica: Replica): Promise<any> {
  return waitFor(
    async () => {
      const current = await stats(replica);
      return current.lifetime.completed === current.completed && current.lifetime.cancelled === current.cancelled ? current : undefined;
    },
    { what: `the lifetime counters on ${replica.name} to catch up with the tasks` },
  );
}


async function sse(replica: Replica, path: string): Promise<SseStream> {
  const stream = await openSse(replica.url + path);
  opened.push(stream);
  expect(stream.status).toBe(200);
  return stream;
}

beforeAll(async () => {
  const base = { server: { host: '127.0.0.1', cancel_wait_seconds: 5 }, dependencies: { state_machine: { enabled: false }, oneapi: { enabled: false } } };
  const configPath = writeConfigFile(prefix, base);
  const limitedPath = writeConfigFile(prefix, {
    ...base,
    server: { ...base.server, rate_limit: { enabled: true, window_seconds: RATE_WINDOW_SECONDS, max: RATE_MAX } },
  });
  configPaths.push(configPath, limitedPath);
  const ports = new Set<number>();
  while (ports.size < 4) ports.add(await freePort());
  const [portA, portB, portC, portD] = [...ports] as [number, number, number, number];
  a = spawnApiReplica('A', configPath, portA);
  b = spawnApiReplica('B', configPath, portB);
  c = spawnApiReplica('C', limitedPath, portC);
  d = spawnApiReplica('D', limitedPath, portD);
  worker = spawnWorkerProcess(configPath, { WORKER_TASK_TYPES: 'custom', WORKER_CONCURRENCY: '4' });
  processes.push(worker);
  processes.push(...[a, b, c, d].map((replica) => replica.process));
  await Promise.all([a, b, c, d].map(untilAnswering));
  for (const replica of [a, b]) {
    await waitFor(
      async () => {
        if (!alive(worker)) throw new Error(`worker exited: ${worker.output()}`);
        return ((await replica.request('GET', '/workers')).body.workers as any[]).some((w) => w.pid === worker.pid);
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `the worker process in /workers on ${replica.name}` },
    );
  }
}, 60_000);

afterAll(async () => {
  for (const stream of opened) stream.close();
  for (const p of processes) if (alive(p)) p.child.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  for (const path of configPaths) rmSync(dirname(path), { recursive: true, force: true });
});

describe('cancel through the other replica', () => {
  it('stops a task running on a worker: created on A, cancelled on B, it ends cancelled at once, its handler aborted', async () => {
    const duration = 30_000;
    const task = await createOn(a, { payload: { handler: 'sleep', duration_ms: duration }, config: { max_retries: 3, timeout_seconds: 60 } });
    const running = await waitFor(
      async () => {
        const current = await taskOn(b, task.id);
        return current.status === 'running' && current.progress > 0 ? current : undefined;
      },
      { what: 'the sleep task to run and report progress, seen on B' },
    );
    expect(running.worker_id.split(':')[1]).toBe(String(worker.pid));

    const asked = Date.now();
    const cancel = await b.request('POST', `${tasksPath(task.id)}/cancel`);
    const answered = Date.now();
    // 200, not 202: B saw the worker (told through Redis) confirm the abort within its wait.
    expect({ status: cancel.status, body: cancel.body }).toEqual({
      status: 200,
      body: { success: true, task_id: task.id, status: 'cancelled', previous_status: 'running' },
    });
    expect(answered - asked).toBeLessThan(3000);

    const ended = await taskOn(a, task.id);
    expect(ended).toMatchObject({ status: 'cancelled', error_code: 'cancelled', retry_count: 0, worker_id: running.worker_id });
    // It finished while B was answering, not when the 30 s sleep would have: the handler stopped.
    const finished = Date.parse(ended.completed_at);
    expect(finished).toBeGreaterThanOrEqual(asked - 5);
    expect(finished).toBeLessThanOrEqual(answered + 5);
    expect(finished - Date.parse(ended.started_at)).toBeLessThan(duration / 2);
    expect(ended.progress).toBeLessThan(100);
    // Both replicas read the same final task, and the worker holds it no more (it was not left running).
    expect(await taskOn(b, task.id)).toEqual(ended);
    await waitFor(
      async () => {
        const [onA, onB] = await Promise.all([a.request('GET', '/workers'), b.request('GET', '/workers')]);
        return [onA, onB].every((res) => res.body.workers.every((w: any) => !w.current_tasks.includes(task.id)));
      },
      { what: 'the worker to drop the cancelled task' },
    );
    // Cancelling again, anywhere: it is final.
    for (const replica of [a, b]) {
      const again = await replica.request('POST', `${tasksPath(task.id)}/cancel`);
      expect({ on: replica.name, status: again.status, code: again.body.error?.code, details: again.body.error?.details }).toEqual({
        on: replica.name, status: 409, code: 'task_not_cancellable', details: { status: 'cancelled' },
      });
    }
  });

  it('takes a queued task out of its queue: created on B, cancelled on A', async () => {
    // No worker serves data_processing here, so the task stays queued until it is cancelled.
    const before = await stats(b);
    const task = await createOn(b, { type: 'data_processing', payload: { items: [{ n: 1 }] } });
    expect(task.status).toBe('queued');
    expect((await taskOn(a, task.id)).status).toBe('queued');
    const cancel = await a.request('POST', `${tasksPath(task.id)}/cancel`);
    expect({ status: cancel.status, body: cancel.body }).toEqual({
      status: 200,
      body: { success: true, task_id: task.id, status: 'cancelled', previous_status: 'queued' },
    });
    expect(await taskOn(b, task.id)).toMatchObject({ status: 'cancelled', error_code: 'cancelled', started_at: null, worker_id: null });
    for (const replica of [a, b]) {
      const after = await stats(replica);
      expect({ on: replica.name, ...after.by_type.data_processing }).toEqual({
        on: replica.name, ...before.by_type.data_processing, cancelled: before.by_type.data_processing.cancelled + 1,
      });
      expect(after.lifetime.created).toBe(before.lifetime.created + 1);
    }
    const again = await b.request('POST', `${tasksPath(task.id)}/cancel`);
    expect([again.status, again.body.error?.code]).toEqual([409, 'task_not_cancellable']);
  });
});

describe('idempotent client ids across replicas', () => {
  it('answers a repeat on the other replica with the same task, and a different body under the id with 409', async () => {
    const id = uid('replicas-idem');
    const body = { id, type: 'custom', name: 'idempotent', priority: 'high', payload: { handler: 'echo', n: 1 } };
    const createdBefore = (await stats(a)).lifetime.created;
    const first = await a.request('POST', '/tasks', body);
    expect(first.status).toBe(201);
    expect(first.body.task_id).toBe(id);
    // The same task, with the priority given by number instead of by name: still the same task.
    const repeat = await b.request('POST', '/tasks', { ...body, priority: 1 });
    expect(repeat.status).toBe(200);
    expect(repeat.body).toMatchObject({ success: true, task_id: id, created_at: first.body.created_at });
    expect(repeat.body.task).toMatchObject({ id, name: 'idempotent', priority: 1, payload: body.payload, created_at: first.body.created_at });

    for (const replica of [b, a]) {
      const other = await replica.request('POST', '/tasks', { ...body, payload: { handler: 'echo', n: 2 } });
      expect({ on: replica.name, status: other.status, code: other.body.error?.code }).toEqual({ on: replica.name, status: 409, code: 'conflict' });
    }
    const done = await waitFor(async () => {
      const current = await taskOn(b, id);
      return current.status === 'completed' ? current : undefined;
    }, { what: 'the idempotent task to complete' });
    expect(done.result).toEqual({ custom_result: 'success', payload_received: body.payload });
    for (const replica of [a, b]) {
      const listed = (await replica.request('GET', '/tasks?limit=1000')).body.tasks as any[];
      expect({ on: replica.name, ids: listed.filter((t) => t.id === id).length }).toEqual({ on: replica.name, ids: 1 });
      expect((await stats(replica)).lifetime.created).toBe(createdBefore + 1);
    }
  });

  it('makes one task of the same id posted to both replicas at once, counted once by /stats on both', async () => {
    const id = uid('replicas-race');
    const bodies = [
      { id, type: 'custom', payload: { handler: 'echo', body: 'x' } },
      { id, type: 'custom', payload: { handler: 'echo', body: 'y' } },
    ];
    const before = await settledStats(a);
    expect(await stats(b)).toMatchObject({ lifetime: before.lifetime, total_tasks: before.total_tasks });
    // 12 requests at once: each replica gets each body three times.
    const plan = Array.from({ length: 12 }, (_, i) => ({ replica: i % 2 ? b : a, body: bodies[Math.floor(i / 2) % 2]! }));
    const answers = await Promise.all(plan.map(async ({ replica, body }) => ({ replica: replica.name, body, res: await replica.request('POST', '/tasks', body) })));

    const winners = answers.filter((x) => x.res.status === 201);
    expect(winners).toHaveLength(1);
    const kept = winners[0]!.body;
    // Every request with the kept body got that task (201 once, 200 after); every other one a conflict.
    for (const answer of answers) {
      const { replica, body, res } = answer;
      const expected = body !== kept ? { status: 409, code: 'conflict' } : { status: answer === winners[0] ? 201 : 200, task_id: id };
      expect({ replica, status: res.status, ...(res.status === 409 ? { code: res.body.error?.code } : { task_id: res.body.task_id }) }).toEqual({ replica, ...expected });
    }
    // Both replicas answered 200s, so the losing replica read the task the winning one made.
    expect(new Set(answers.filter((x) => x.res.status === 200).map((x) => x.replica))).toEqual(new Set(['A', 'B']));

    const done = await waitFor(async () => {
      const current = await taskOn(a, id);
      return current.status === 'completed' ? current : undefined;
    }, { what: 'the raced task to complete' });
    expect(done.result.payload_received).toEqual(kept.payload);
    expect(done.retry_count).toBe(0);
    for (const replica of [a, b]) {
      const after = await waitFor(async () => {
        const current = await stats(replica);
        return current.lifetime.completed === before.lifetime.completed + 1 ? current : undefined;
      }, { what: `the completion counted on ${replica.name}` });
      expect({ on: replica.name, created: after.lifetime.created, total: after.total_tasks, completed: after.completed }).toEqual({
        on: replica.name, created: before.lifetime.created + 1, total: before.total_tasks + 1, completed: before.completed + 1,
      });
      const listed = (await replica.request('GET', '/tasks?limit=1000')).body;
      expect(listed.tasks.filter((t: any) => t.id === id)).toHaveLength(1);
      expect(listed.total).toBe(before.total_tasks + 1);
    }
  });
});

describe('the request rate limit, one budget for every replica', () => {
  it(`refuses request ${RATE_MAX + 1} with 429 and Retry-After, whichever replica it reaches`, async () => {
    const createdBefore = (await stats(a)).lifetime.created;
    const seen: Array<[string, number, string | undefined]> = [];
    for (let i = 0; i < RATE_MAX; i++) {
      const replica = i % 2 ? d : c;
      const res = await replica.request('GET', '/tasks?limit=1');
      seen.push([replica.name, res.status, /^limit=(\d+), remaining=(\d+), reset=\d+$/.exec(res.headers.get('ratelimit') ?? '')?.slice(1).join('/')]);
    }
    // One count for both: the remaining budget falls by one per request, whichever replica answered.
    expect(seen).toEqual(Array.from({ length: RATE_MAX }, (_, i) => [i % 2 ? 'D' : 'C', 200, `${RATE_MAX}/${RATE_MAX - 1 - i}`]));
    // Request max+1 goes to D, which itself has answered only two: refused because C's count is D's too.
    // A create is refused like any other request, before anything is stored.
    const refusals = [
      { replica: d, res: await d.request('POST', '/tasks', { type: 'custom', payload: { handler: 'echo' } }) },
      { replica: c, res: await c.request('GET', '/tasks?limit=1') },
      { replica: d, res: await d.request('GET', '/stats') },
    ];
    for (const { replica, res } of refusals) {
      expect({ on: replica.name, status: res.status, code: res.body.error?.code }).toEqual({ on: replica.name, status: 429, code: 'rate_limited' });
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(RATE_WINDOW_SECONDS);
      expect(res.body.error.details).toEqual({ retry_after_seconds: retryAfter });
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^limit=${RATE_MAX}, remaining=0, reset=\\d+$`));
    }
    // /health is never counted; the refused create made nothing (read through the unlimited replicas).
    expect((await c.request('GET', '/health')).status).toBe(200);
    expect((await d.request('GET', '/health')).status).toBe(200);
    expect((await stats(a)).lifetime.created).toBe(createdBefore);
    expect((await stats(b)).lifetime.created).toBe(createdBefore);
  });
});

describe('schedules across replicas', () => {
  it('created on A reads the same on B, makes one task per tick, and deleted on B is gone on A', async () => {
    const createdBefore = (await stats(a)).lifetime.created;
    const res = await a.request('POST', '/schedules', { name: 'replicas tick', every_seconds: 1, task: { type: 'custom', payload: { handler: 'echo', from: 'schedule' } } });
    expect(res.status).toBe(201);
    const schedule = res.body.schedule;

    // A tick may land between two reads: compare only reads no tick separated (A, then B, then A again).
    const views = await waitFor(
      async () => {
        const first = (await a.request('GET', `/schedules/${schedule.id}`)).body;
        const onB = (await b.request('GET', `/schedules/${schedule.id}`)).body;
        const listB = (await b.request('GET', '/schedules')).body;
        const listA = (await a.request('GET', '/schedules')).body;
        const again = (await a.request('GET', `/schedules/${schedule.id}`)).body;
        return isDeepStrictEqual(first, again) ? { first, onB, listA, listB } : undefined;
      },
      { intervalMs: 50, what: 'reads of the schedule with no tick between them' },
    );
    expect(views.first).toMatchObject({ id: schedule.id, name: 'replicas tick', every_seconds: 1, created_at: schedule.created_at, task: schedule.task });
    expect(views.onB).toEqual(views.first);
    expect(views.listB).toEqual({ schedules: [views.first], total: 1 });
    expect(views.listA).toEqual(views.listB);

    const runsOf = async (replica: Replica): Promise<any[]> =>
      ((await replica.request('GET', '/tasks?limit=1000')).body.tasks as any[]).filter((t) => t.schedule_id === schedule.id);
    await waitFor(async () => (await runsOf(b)).filter((t) => t.status === 'completed').length >= 3, {
      timeoutMs: 20_000, intervalMs: 100, what: 'three completed runs, seen on B',
    });

    const deleted = await b.request('DELETE', `/schedules/${schedule.id}`);
    expect({ status: deleted.status, body: deleted.body }).toEqual({ status: 200, body: { success: true, id: schedule.id, deleted: true } });
    for (const method of ['GET', 'DELETE']) {
      const gone = await a.request(method, `/schedules/${schedule.id}`);
      expect({ method, status: gone.status, code: gone.body.error?.code }).toEqual({ method, status: 404, code: 'not_found' });
    }
    expect((await a.request('GET', '/schedules')).body).toEqual({ schedules: [], total: 0 });

    const runs = await waitFor(async () => {
      const all = await runsOf(a);
      return all.every((t) => FINAL.includes(t.status)) ? all : undefined;
    }, { what: 'every run to end' });
    const ticks = runs.map((t) => Date.parse(t.scheduled_at));
    expect(new Set(ticks).size).toBe(runs.length);
    for (const task of runs) {
      expect(task.id).toBe(`repeat:${schedule.id}:${Date.parse(task.scheduled_at)}`);
      expect((Date.parse(task.scheduled_at) - Math.min(...ticks)) % 1000).toBe(0);
    }
    expect(runs.filter((t) => t.status === 'completed').length).toBeGreaterThanOrEqual(3);
    // Each run counted once, by both replicas.
    expect((await stats(a)).lifetime.created).toBe(createdBefore + runs.length);
    expect((await stats(b)).lifetime.created).toBe(createdBefore + runs.length);
    expect(await runsOf(b)).toEqual(expect.arrayContaining(runs));
  });
});

describe('live events across replicas', () => {
  it("streams a task made on A and run by the worker on B's task and global streams, in order, the same as A's", async () => {
    // Paused, the task waits queued while the streams open, so they see it from queued to completed.
    expect((await a.request('POST', '/queues/custom/pause')).body).toMatchObject({ paused: true });
    let resumed = false;
    try {
      const [allOnA, allOnB] = await Promise.all([sse(a, '/events?type=custom'), sse(b, '/events?type=custom')]);
      await Promise.all([allOnA, allOnB].map((s) => waitFor(() => s.comments.includes('subscribed'), { what: 'the subscription' })));
      const task = await createOn(a, { payload: { handler: 'sleep', duration_ms: 600 } });
      expect(task.status).toBe('queued');
      const [taskOnA, taskOnB] = await Promise.all([sse(a, `/tasks/${task.id}/events`), sse(b, `/tasks/${task.id}/events`)]);
      await Promise.all([taskOnA, taskOnB].map((s) => s.next((e) => e.data.status === 'queued')));
      expect((await b.request('POST', '/queues/custom/resume')).body).toMatchObject({ paused: false });
      resumed = true;

      await Promise.all([taskOnA.ended, taskOnB.ended]);
      expect([taskOnA.endedByServer, taskOnB.endedByServer]).toEqual([true, true]);
      await Promise.all([allOnA, allOnB].map((s) => s.next((e) => e.data.task_id === task.id && e.data.status === 'completed')));

      // B's stream of the task: queued, running, its progress reports (growing), completed.
      expect(statusesOf(taskOnB)).toEqual(['queued', 'running', 'completed']);
      const names = taskOnB.events.map((e) => (e.event === 'status' ? e.data.status : e.event));
      expect(names.slice(0, 2)).toEqual(['queued', 'running']);
      expect(names.at(-1)).toBe('completed');
      const progress = taskOnB.events.filter((e) => e.event === 'progress').map((e) => e.data.progress as number);
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(names.slice(2, -1)).toEqual(progress.map(() => 'progress'));
      expect(progress).toEqual([...progress].sort((x, y) => x - y));
      expect(new Set(progress).size).toBe(progress.length);
      const steps = taskOnB.events.filter((e) => e.event === 'status').map((e) => e.data);
      expect(steps.map((s) => s.previous_status)).toEqual([null, 'queued', 'running']);
      expect(steps[2]).toMatchObject({ task_id: task.id, type: 'custom', progress: 100, error_code: null, retry_count: 0 });

      // A's stream carries the same events, with the same Redis stream ids; only the first event's `at`
      // (when each replica read the task) differs.
      const withoutReadTime = (s: SseStream) => s.events.map((e, i) => (i === 0 ? { ...e, data: { ...e.data, at: null } } : e));
      expect(withoutReadTime(taskOnA)).toEqual(withoutReadTime(taskOnB));

      // The global streams: the same events of the task on both replicas, from its creation on.
      const ofTask = (s: SseStream) => s.events.filter((e) => e.data.task_id === task.id);
      expect(statusesOf(allOnB, task.id)).toEqual(['queued', 'running', 'completed']);
      const globalNames = ofTask(allOnB).map((e) => (e.event === 'status' ? e.data.status : e.event));
      expect(globalNames.slice(0, 2)).toEqual(['queued', 'running']);
      expect(globalNames.at(-1)).toBe('completed');
      expect(globalNames.slice(2, -1).length).toBeGreaterThanOrEqual(2);
      expect(new Set(globalNames.slice(2, -1))).toEqual(new Set(['progress']));
      expect(ofTask(allOnA)).toEqual(ofTask(allOnB));
      // The live events end where GET /tasks/{id} says the task ended.
      const done = await taskOn(b, task.id);
      expect(done).toMatchObject({ status: 'completed', progress: 100 });
      expect(Math.abs(Date.parse(steps[2].at) - Date.parse(done.completed_at))).toBeLessThan(1000);
    } finally {
      if (!resumed) await b.request('POST', '/queues/custom/resume');
    }
  });
});

describe('/stats and /workers after the work', () => {
  it('reads the same on both replicas, and adds up', async () => {
    const noTimestamp = ({ timestamp: _t, ...rest }: any) => rest;
    // The worker's record is as of its last heartbeat: wait until it shows the worker idle.
    await waitFor(async () => (await settledStats(b)).workers.busy === 0, { what: 'the worker record to show it idle' });
    const { onA, onB } = await readsNothingSeparated(a, b, '/stats', noTimestamp);
    expect(onB).toEqual(onA);
    // What this file did: tasks cancelled (two by hand, the schedule's waiting run by its deletion), the
    // rest completed, nothing waiting, running, failed or retried.
    expect(onA).toMatchObject({ pending: 0, queued: 0, running: 0, failed: 0, timeout: 0, workers: { total: 1, busy: 0 } });
    expect(onA.by_type.data_processing).toMatchObject({ queued: 0, cancelled: 1 });
    expect(onA.cancelled).toBeGreaterThanOrEqual(2);
    expect(onA.completed).toBeGreaterThanOrEqual(6);
    expect(onA.total_tasks).toBe(onA.completed + onA.cancelled);
    expect(onA.lifetime).toEqual({ created: onA.total_tasks, completed: onA.completed, cancelled: onA.cancelled, failed: 0, timeout: 0, retried: 0 });
    for (const replica of [a, b]) expect((await replica.request('GET', '/tasks?limit=1')).body.total).toBe(onA.total_tasks);

    const workers = await readsNothingSeparated(a, b, '/workers');
    expect(workers.onB).toEqual(workers.onA);
    expect(workers.onA).toMatchObject({ total: 1, busy: 0 });
    expect(workers.onA.workers[0]).toMatchObject({ pid: worker.pid, task_types: ['custom'], status: 'idle', active_tasks: 0, current_tasks: [] });
  });
});
