// Schedules (CONTRACT section 7) through real HTTP on a real Redis: the shapes and refusals of the
// /schedules routes, cron read in a time zone, every_seconds runs made by the clock and run by workers,
// exactly one task per tick with two API replicas and two worker processes, a cancelled run skipped,
// deletion stopping the clock, and schedules outliving the API process. A schedule's runs are tasks like
// any other: listed by GET /tasks, counted by GET /stats.
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../support/redis-server.js';
import {
  API_MAIN,
  request,
  spawnEngineProcess,
  spawnWorkerProcess,
  startEngine,
  waitFor,
  writeConfigFile,
  type Engine,
  type EngineProcess,
} from '../support/harness.js';

const SCHEDULE_FIELDS = ['id', 'name', 'cron', 'timezone', 'every_seconds', 'task', 'created_at', 'next_run_at', 'last_run_at', 'runs'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const FINAL = ['completed', 'failed', 'cancelled', 'timeout'];
const ECHO = { type: 'custom', payload: { handler: 'echo' } };
const HOUR = 3_600_000;

type Requester = Pick<Engine, 'request'>;

async function createSchedule(engine: Requester, body: Record<string, unknown>): Promise<any> {
  const res = await engine.request('POST', '/schedules', body);
  if (res.status !== 201) throw new Error(`schedule not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.schedule;
}

async function getSchedule(engine: Requester, id: string): Promise<any> {
  const res = await engine.request('GET', `/schedules/${id}`);
  if (res.status !== 200) throw new Error(`GET /schedules/${id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Every task GET /tasks lists that carries this schedule's id. */
async function runsOf(engine: Requester, scheduleId: string): Promise<any[]> {
  const res = await engine.request('GET', '/tasks?limit=1000');
  expect(res.status).toBe(200);
  return (res.body.tasks as any[]).filter((task) => task.schedule_id === scheduleId);
}

/** Deletes a schedule and returns its runs once each has ended (a run already due when it was deleted still runs). */
async function deleteAndAwaitRuns(engine: Requester, scheduleId: string): Promise<any[]> {
  expect((await engine.request('DELETE', `/schedules/${scheduleId}`)).status).toBe(200);
  return waitFor(
    async () => {
      const runs = await runsOf(engine, scheduleId);
      return runs.every((task) => FINAL.includes(task.status)) ? runs : undefined;
    },
    { what: 'every run to end' },
  );
}

async function createdCount(engine: Requester): Promise<number> {
  return (await engine.request('GET', '/stats')).body.lifetime.created as number;
}

const tickOf = (task: any): number => Date.parse(task.scheduled_at);

/** The time of day (and weekday) an instant has in a zone, as its people read their clocks. */
const localClock = (iso: string, timeZone: string): string =>
  new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));

/** An engine without a worker: a schedule's runs stay where the clock put them. */
let idle: Engine;
beforeAll(async () => {
  idle = await startEngine({ label: 'schedules' });
});
afterAll(async () => {
  await idle?.stop();
});

describe('creating, reading and deleting schedules', () => {
  it('creates an every_seconds schedule whose first run is a task made at once, listed and counted like any', async () => {
    const createdBefore = await createdCount(idle);
    const res = await idle.request('POST', '/schedules', {
      name: 'hourly echo',
      every_seconds: 3600,
      task: { type: 'custom', priority: 'high', payload: { handler: 'echo', n: 1 }, metadata: { team: 'a' } },
    });
    expect(res.status).toBe(201);
    const schedule = res.body.schedule;
    expect(res.body).toEqual({ success: true, id: schedule.id, schedule });
    expect(Object.keys(schedule).sort()).toEqual([...SCHEDULE_FIELDS].sort());
    expect(schedule.id).toMatch(UUID);
    expect(schedule).toMatchObject({
      name: 'hourly echo', cron: null, timezone: null, every_seconds: 3600, runs: 0, last_run_at: null,
      task: {
        type: 'custom', name: 'custom', priority: 1, priority_name: 'HIGH',
        config: { timeout_seconds: 300, max_retries: 3, retry_delay_seconds: 5, backoff: 'exponential' },
        payload: { handler: 'echo', n: 1 }, metadata: { team: 'a' },
      },
    });
    // The first tick is the moment of creation.
    expect(Math.abs(Date.parse(schedule.next_run_at) - Date.parse(schedule.created_at))).toBeLessThan(1000);
    expect(await getSchedule(idle, schedule.id)).toEqual(schedule);

    const [run, ...more] = await runsOf(idle, schedule.id);
    expect(more).toEqual([]);
    expect(run).toMatchObject({
      id: `repeat:${schedule.id}:${Date.parse(schedule.next_run_at)}`,
      status: 'queued', type: 'custom', name: 'custom', priority: 1, config: schedule.task.config,
      payload: { handler: 'echo', n: 1 }, metadata: { team: 'a' }, scheduled_at: schedule.next_run_at, schedule_id: schedule.id,
    });
    expect((await idle.request('GET', `/tasks/${encodeURIComponent(run.id)}`)).body).toEqual(run);
    expect(await createdCount(idle)).toBe(createdBefore + 1);
  });

  it('lists schedules newest first with their total', async () => {
    const older = await createSchedule(idle, { every_seconds: 600, task: ECHO });
    const newer = await createSchedule(idle, { cron: '0 3 * * *', task: { ...ECHO, name: 'nightly' } });
    const res = await idle.request('GET', '/schedules');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['schedules', 'total']);
    expect(res.body.total).toBe(res.body.schedules.length);
    const ids = (res.body.schedules as any[]).map((s) => s.id);
    expect(ids.indexOf(newer.id)).toBeLessThan(ids.indexOf(older.id));
    expect(res.body.schedules.find((s: any) => s.id === newer.id)).toEqual(newer);
    // The schedule's name defaults to its task's name.
    expect(newer).toMatchObject({ name: 'nightly', cron: '0 3 * * *', timezone: 'UTC', every_seconds: null });
  });

  it('deletes a schedule: its run not yet due is cancelled, a run already due goes on, then 404 everywhere', async () => {
    const yearly = await createSchedule(idle, { cron: '0 0 1 1 *', task: ECHO });
    const [waiting] = await runsOf(idle, yearly.id);
    expect(waiting).toMatchObject({ status: 'pending', scheduled_at: yearly.next_run_at });
    const res = await idle.request('DELETE', `/schedules/${yearly.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, id: yearly.id, deleted: true });
    expect((await idle.request('GET', `/tasks/${encodeURIComponent(waiting.id)}`)).body).toMatchObject({ status: 'cancelled', error_code: 'cancelled', started_at: null });

    const frequent = await createSchedule(idle, { every_seconds: 3600, task: ECHO });
    const [due] = await runsOf(idle, frequent.id);
    expect((await idle.request('DELETE', `/schedules/${frequent.id}`)).status).toBe(200);
    expect((await idle.request('GET', `/tasks/${encodeURIComponent(due.id)}`)).body.status).toBe('queued');

    for (const id of [yearly.id, frequent.id]) {
      for (const method of ['GET', 'DELETE']) {
        const gone = await idle.request(method, `/schedules/${id}`);
        expect({ method, status: gone.status, code: gone.body.error?.code }).toEqual({ method, status: 404, code: 'not_found' });
      }
    }
    const ids = ((await idle.request('GET', '/schedules')).body.schedules as any[]).map((s) => s.id);
    expect(ids).not.toContain(yearly.id);
    expect(ids).not.toContain(frequent.id);
  });

  it('refuses bad bodies with a 400 naming each problem, and creates nothing', async () => {
    const schedulesBefore = (await idle.request('GET', '/schedules')).body.total;
    const createdBefore = await createdCount(idle);
    const cases: Array<[string, unknown, string]> = [
      ['cron and every_seconds', { cron: '* * * * *', every_seconds: 5, task: ECHO }, 'every_seconds'],
      ['neither', { task: ECHO }, 'cron'],
      ['not a cron expression', { cron: 'every day at nine', task: ECHO }, 'cron'],
      ['a field out of range', { cron: '61 * * * *', task: ECHO }, 'cron'],
      ['a cron that never fires', { cron: '0 0 30 2 *', task: ECHO }, 'cron'],
      ['an unknown zone', { cron: '0 9 * * *', timezone: 'Mars/Olympus', task: ECHO }, 'timezone'],
      ['an offset, not a zone', { cron: '0 9 * * *', timezone: '+05:00', task: ECHO }, 'timezone'],
      ['a zone without cron', { every_seconds: 60, timezone: 'UTC', task: ECHO }, 'timezone'],
      ['a fraction of a second', { every_seconds: 1.5, task: ECHO }, 'every_seconds'],
      ['zero seconds', { every_seconds: 0, task: ECHO }, 'every_seconds'],
      ['no task', { every_seconds: 60 }, 'task'],
      ['a bad payload', { every_seconds: 60, task: { type: 'custom', payload: { handler: 'sleep', duration_ms: -1 } } }, 'task.payload.duration_ms'],
      ['an unknown task type', { every_seconds: 60, task: { type: 'nope' } }, 'task.type'],
      ['an unknown task field', { every_seconds: 60, task: { type: 'custom', colour: 'red' } }, 'task.colour'],
      ['a run id in the template', { every_seconds: 60, task: { type: 'custom', id: 'mine' } }, 'task.id'],
      ['a delay in the template', { every_seconds: 60, task: { type: 'custom', delay_seconds: 5 } }, 'task.delay_seconds'],
      ['an unknown field', { every_seconds: 60, task: ECHO, colour: 'red' }, 'colour'],
    ];
    for (const [what, body, path] of cases) {
      const res = await idle.request('POST', '/schedules', body);
      expect({ what, status: res.status, code: res.body.error?.code }).toEqual({ what, status: 400, code: 'validation_error' });
      expect({ what, paths: (res.body.error.details as any[]).map((d) => d.path) }).toEqual({ what, paths: expect.arrayContaining([path]) });
    }
    // Problems of the schedule and of its task come back together.
    const both = await idle.request('POST', '/schedules', { cron: 'nope', task: { type: 'custom', payload: { handler: 'sleep' } } });
    expect((both.body.error.details as any[]).map((d) => d.path).sort()).toEqual(['cron', 'task.payload.duration_ms']);
    expect((await idle.request('POST', '/schedules', '{"every_seconds": ')).body.error.code).toBe('invalid_json');
    expect((await idle.request('GET', '/schedules')).body.total).toBe(schedulesBefore);
    expect(await createdCount(idle)).toBe(createdBefore);
  });

  it('answers 404 not_found for ids it does not know', async () => {
    for (const id of ['0c6f8a52-6d35-4b5e-9d8a-1f5b8d2c1e00', 'a:b:c:d:e', 'repeat']) {
      const res = await idle.request('GET', `/schedules/${encodeURIComponent(id)}`);
      expect({ id, status: res.status, body: res.body }).toEqual({
        id, status: 404, body: { success: false, error: { code: 'not_found', message: expect.stringContaining('not found') } },
      });
    }
  });
});

describe('cron schedules in a time zone', () => {
  it('reports next_run_at as the next time the cron fires in its zone, and makes that run wait for it', async () => {
    const kolkata = await createSchedule(idle, { cron: '30 9 * * *', timezone: 'Asia/Kolkata', task: ECHO });
    const next = Date.parse(kolkata.next_run_at);
    expect(next).toBeGreaterThan(Date.parse(kolkata.created_at));
    expect(next).toBeLessThanOrEqual(Date.parse(kolkata.created_at) + 24 * HOUR);
    // India keeps UTC+05:30 all year: 09:30 there is 04:00 UTC.
    expect(kolkata.next_run_at.slice(11)).toBe('04:00:00.000Z');
    expect(localClock(kolkata.next_run_at, 'Asia/Kolkata')).toMatch(/ 09:30$/);
    expect(kolkata).toMatchObject({ cron: '30 9 * * *', timezone: 'Asia/Kolkata', every_seconds: null });

    const utc = await createSchedule(idle, { cron: '30 9 * * *', task: ECHO });
    expect(utc.timezone).toBe('UTC');
    expect(utc.next_run_at.slice(11)).toBe('09:30:00.000Z');

    // A zone with daylight saving: 9:00 on weekdays in New York, whichever offset applies that day.
    const newYork = await createSchedule(idle, { cron: '0 9 * * 1-5', timezone: 'America/New_York', task: ECHO });
    expect(localClock(newYork.next_run_at, 'America/New_York')).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 09:00$/);
    expect(Date.parse(newYork.next_run_at)).toBeLessThanOrEqual(Date.parse(newYork.created_at) + 4 * 24 * HOUR);

    const [run, ...more] = await runsOf(idle, kolkata.id);
    expect(more).toEqual([]);
    expect(run).toMatchObject({ status: 'pending', scheduled_at: kolkata.next_run_at, id: `repeat:${kolkata.id}:${next}` });
  });
});

describe('runs made by the clock', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await startEngine({ label: 'schedules-runs', worker: { concurrency: 4 } });
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it('every_seconds: 1 makes a task each second from the first moment, run by a worker and carrying schedule_id', async () => {
    const createdBefore = await createdCount(engine);
    const schedule = await createSchedule(engine, { every_seconds: 1, task: { type: 'custom', payload: { handler: 'echo', from: 'clock' } } });
    const done = await waitFor(
      async () => {
        const completed = (await runsOf(engine, schedule.id)).filter((task) => task.status === 'completed');
        return completed.length >= 3 ? completed.sort((a, b) => tickOf(a) - tickOf(b)) : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'three completed runs' },
    );
    // The first tick is the moment of creation.
    const first = Math.min(...(await runsOf(engine, schedule.id)).map(tickOf));
    expect(Math.abs(first - Date.parse(schedule.created_at))).toBeLessThan(1000);
    for (const task of done) {
      expect(task).toMatchObject({
        schedule_id: schedule.id, type: 'custom', id: `repeat:${schedule.id}:${tickOf(task)}`,
        result: { custom_result: 'success', payload_received: { handler: 'echo', from: 'clock' } },
      });
      expect((tickOf(task) - tickOf(done[0])) % 1000).toBe(0);
    }
    expect(new Set(done.map(tickOf)).size).toBe(done.length);

    // Between two ticks the schedule's counts agree with its tasks: runs is the number started, last_run_at
    // the latest start, and GET /tasks and /stats count each task once.
    await waitFor(
      async () => {
        const current = await getSchedule(engine, schedule.id);
        const runs = await runsOf(engine, schedule.id);
        const started = runs.filter((task) => task.started_at !== null).map((task) => task.started_at as string).sort();
        return current.runs === started.length && current.last_run_at === started.at(-1) ? true : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'runs and last_run_at to match the started tasks' },
    );
    const all = await deleteAndAwaitRuns(engine, schedule.id);
    expect(new Set(all.map((task) => task.id)).size).toBe(all.length);
    expect(await createdCount(engine)).toBe(createdBefore + all.length);
  });

  it('skips a run a client cancelled before it came due, and the schedule goes on', async () => {
    const schedule = await createSchedule(engine, { every_seconds: 2, task: ECHO });
    const waiting = await waitFor(
      async () => (await runsOf(engine, schedule.id)).find((task) => task.status === 'pending'),
      { timeoutMs: 10_000, what: 'a run waiting for its tick' },
    );
    const cancel = await engine.request('POST', `/tasks/${encodeURIComponent(waiting.id)}/cancel`);
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ status: 'cancelled', previous_status: 'pending' });
    const later = await waitFor(
      async () => (await runsOf(engine, schedule.id)).find((task) => task.status === 'completed' && tickOf(task) > tickOf(waiting)),
      { timeoutMs: 10_000, what: 'a run after the cancelled one' },
    );
    expect(tickOf(later) - tickOf(waiting)).toBe(2000);
    const skipped = (await runsOf(engine, schedule.id)).filter((task) => tickOf(task) === tickOf(waiting));
    expect(skipped).toEqual([expect.objectContaining({ id: waiting.id, status: 'cancelled', started_at: null })]);
    expect((await engine.request('DELETE', `/schedules/${schedule.id}`)).status).toBe(200);
  });

  it('stops making runs once deleted: its run not yet due is cancelled and no task comes after', async () => {
    const schedule = await createSchedule(engine, { every_seconds: 2, task: ECHO });
    await waitFor(async () => (await getSchedule(engine, schedule.id)).runs >= 2, { timeoutMs: 10_000, intervalMs: 20, what: 'two runs' });
    // A run has just started, so the next tick is about two seconds away.
    const res = await engine.request('DELETE', `/schedules/${schedule.id}`);
    const deletedAt = Date.now();
    expect(res.body).toEqual({ success: true, id: schedule.id, deleted: true });
    // Time passing, measured by a clock that keeps running: three ticks of a second schedule.
    const control = await createSchedule(engine, { every_seconds: 1, task: ECHO });
    await waitFor(async () => (await getSchedule(engine, control.id)).runs >= 3, { timeoutMs: 15_000, intervalMs: 100, what: 'three control ticks' });
    const runs = await runsOf(engine, schedule.id);
    expect(runs.filter((task) => Date.parse(task.created_at) > deletedAt)).toEqual([]);
    expect(runs.filter((task) => !FINAL.includes(task.status))).toEqual([]);
    const cancelled = runs.filter((task) => task.status === 'cancelled');
    expect(cancelled).toEqual([expect.objectContaining({ error_code: 'cancelled', started_at: null })]);
    expect(tickOf(cancelled[0])).toBeGreaterThan(deletedAt);
    expect(runs.filter((task) => task.status === 'completed').length).toBeGreaterThanOrEqual(2);
    expect((await engine.request('GET', `/schedules/${schedule.id}`)).status).toBe(404);
    expect((await engine.request('DELETE', `/schedules/${control.id}`)).status).toBe(200);
  });
});

describe('two API replicas and two worker processes', () => {
  let a: Engine;
  let b: Engine;
  const workers: EngineProcess[] = [];
  beforeAll(async () => {
    a = await startEngine({ label: 'schedules-replicas' });
    b = await startEngine({ prefix: a.prefix });
    const configPath = writeConfigFile(a.prefix);
    for (let i = 0; i < 2; i++) workers.push(spawnWorkerProcess(configPath, { WORKER_TASK_TYPES: 'custom', WORKER_CONCURRENCY: '4' }));
    await waitFor(async () => (await a.request('GET', '/workers')).body.total === 2, { timeoutMs: 20_000, intervalMs: 100, what: 'two worker processes' });
  }, 30_000);
  afterAll(async () => {
    for (const worker of workers) worker.child.kill('SIGKILL');
    await Promise.all(workers.map((worker) => worker.exited));
    await b?.stop();
    await a?.stop();
  });

  it('makes exactly one task per tick, whichever replica is asked and whichever worker runs it', async () => {
    const schedule = await createSchedule(a, { every_seconds: 1, task: ECHO });
    // A tick may land between two reads, so compare reads that no tick separated (A, B, A again).
    const views = await waitFor(async () => {
      const [first, other, again] = [await getSchedule(a, schedule.id), await getSchedule(b, schedule.id), await getSchedule(a, schedule.id)];
      return isDeepStrictEqual(first, again) ? { first, other } : undefined;
    }, { intervalMs: 50, what: 'two reads of the schedule with no tick between them' });
    expect(views.other).toEqual(views.first);
    await waitFor(async () => (await runsOf(b, schedule.id)).filter((task) => task.status === 'completed').length >= 6, {
      timeoutMs: 30_000, intervalMs: 200, what: 'six completed runs',
    });
    const runs = await deleteAndAwaitRuns(b, schedule.id);
    const perTick = new Map<number, number>();
    for (const task of runs) perTick.set(tickOf(task), (perTick.get(tickOf(task)) ?? 0) + 1);
    expect([...perTick.values()].filter((n) => n !== 1)).toEqual([]);
    const ticks = [...perTick.keys()].sort((x, y) => x - y);
    expect(ticks.length).toBeGreaterThanOrEqual(6);
    for (const tick of ticks) expect((tick - ticks[0]!) % 1000).toBe(0);
    // Both replicas count the same tasks, each once.
    expect(await createdCount(b)).toBe(runs.length);
    expect(await createdCount(a)).toBe(runs.length);
    expect((await b.request('GET', '/tasks?limit=1000')).body.total).toBe(runs.length);
  });

  it('still has one task for a tick whose worker was killed mid-run, run again elsewhere and counted once', async () => {
    const schedule = await createSchedule(a, { every_seconds: 3600, task: { type: 'custom', payload: { handler: 'sleep', duration_ms: 1500 }, config: { retry_delay_seconds: 0 } } });
    const running = await waitFor(async () => (await runsOf(a, schedule.id)).find((task) => task.status === 'running'), { what: 'the first run to start' });
    const victim = workers.find((worker) => running.worker_id.split(':')[1] === String(worker.pid))!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const done = await waitFor(
      async () => {
        const task = (await a.request('GET', `/tasks/${encodeURIComponent(running.id)}`)).body;
        return FINAL.includes(task.status) ? task : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'the run to be recovered and finish' },
    );
    expect(done).toMatchObject({ status: 'completed', retry_count: 1 });
    expect(done.worker_id).not.toBe(running.worker_id);
    // The recovered run made no second next run: the schedule has this tick's task and the next hour's.
    const runs = await runsOf(b, schedule.id);
    expect(runs.map(tickOf).sort()).toEqual([tickOf(done), tickOf(done) + HOUR]);
    expect(await getSchedule(b, schedule.id)).toMatchObject({ runs: 1, next_run_at: new Date(tickOf(done) + HOUR).toISOString() });
    expect((await a.request('DELETE', `/schedules/${schedule.id}`)).status).toBe(200);
  });
});

describe('an API restart', () => {
  let engine: Engine;
  let api: EngineProcess | undefined;
  beforeAll(async () => {
    engine = await startEngine({ label: 'schedules-restart', worker: true });
  });
  afterAll(async () => {
    if (api && api.child.exitCode === null) api.child.kill('SIGKILL');
    await api?.exited;
    await engine?.stop();
  });

  it('leaves schedules in place and ticking: they live in Redis, not in an API process', async () => {
    const port = await freePort();
    const configPath = writeConfigFile(engine.prefix, { server: { host: '127.0.0.1', port } });
    const url = `http://127.0.0.1:${port}`;
    const api1 = (api = spawnEngineProcess(API_MAIN, configPath));
    const apiAnswers = () => waitFor(async () => (await request(url, 'GET', '/health')).status === 200, { timeoutMs: 20_000, intervalMs: 100, what: 'the API process' });
    const viaProcess: Requester = { request: (method, path, body) => request(url, method, path, body) };
    await apiAnswers();
    const schedule = await createSchedule(viaProcess, { name: 'outlives its API', every_seconds: 1, task: ECHO });
    const before = await waitFor(async () => {
      const current = await getSchedule(viaProcess, schedule.id);
      return current.runs >= 1 ? current : undefined;
    }, { what: 'a first run' });

    api1.child.kill('SIGTERM');
    expect(await api1.exited).toMatchObject({ code: 0 });
    api = spawnEngineProcess(API_MAIN, configPath);
    await apiAnswers();
    const after = await waitFor(async () => {
      const current = await getSchedule(viaProcess, schedule.id);
      return current.runs > before.runs + 1 ? current : undefined;
    }, { what: 'more runs after the restart' });
    const { runs: _runs, last_run_at: _last, next_run_at: _next, ...lasting } = before;
    expect(after).toMatchObject(lasting);
    expect(((await viaProcess.request('GET', '/schedules')).body.schedules as any[]).map((s) => s.id)).toContain(schedule.id);
    expect((await viaProcess.request('DELETE', `/schedules/${schedule.id}`)).status).toBe(200);
  });
});

describe('API keys scoped to task types', () => {
  const FULL = 'schedules-full-key-0123';
  const CUSTOM_ONLY = 'schedules-custom-key-0123';
  let engine: Engine;
  const as = (key: string | undefined): Requester => ({
    request: (method, path, body) => engine.request(method, path, body, key ? { authorization: `Bearer ${key}` } : {}),
  });
  beforeAll(async () => {
    engine = await startEngine({
      label: 'schedules-auth',
      overrides: {
        auth: { api_keys: [FULL, { key: CUSTOM_ONLY, task_types: ['custom'] }] },
        executors: { system_command: { enabled: false } },
      },
    });
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it('refuses a template of a type the key may not use (403), and shows such a key only its types', async () => {
    const data = { every_seconds: 3600, task: { type: 'data_processing', payload: { items: [{ a: 1 }] } } };
    const refused = await as(CUSTOM_ONLY).request('POST', '/schedules', data);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'forbidden', details: { task_types: ['data_processing'] } });
    const dataSchedule = await createSchedule(as(FULL), data);
    const customSchedule = await createSchedule(as(CUSTOM_ONLY), { every_seconds: 3600, task: ECHO });

    const scoped = (await as(CUSTOM_ONLY).request('GET', '/schedules')).body;
    expect({ total: scoped.total, ids: scoped.schedules.map((s: any) => s.id) }).toEqual({ total: 1, ids: [customSchedule.id] });
    expect((await as(FULL).request('GET', '/schedules')).body.total).toBe(2);
    for (const method of ['GET', 'DELETE']) {
      const res = await as(CUSTOM_ONLY).request(method, `/schedules/${dataSchedule.id}`);
      expect({ method, status: res.status, code: res.body.error?.code }).toEqual({ method, status: 403, code: 'forbidden' });
    }
    expect((await as(undefined).request('GET', '/schedules')).status).toBe(401);
    expect((await as(FULL).request('DELETE', `/schedules/${dataSchedule.id}`)).status).toBe(200);
  });

  it('refuses a template of a task type switched off in config (403), as POST /tasks does', async () => {
    const res = await as(FULL).request('POST', '/schedules', { every_seconds: 60, task: { type: 'system_command', payload: { command: 'date' } } });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
  });
});
