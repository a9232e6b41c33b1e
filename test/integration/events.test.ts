// Live events (CONTRACT section 7) over real HTTP, with a real worker process on a real Redis: a task's
// stream sends its state, then each change in order, and ends after the final status; GET /events
// follows every task, from any API replica, filtered by type and by the key's scope; streams survive
// quiet periods (heartbeats) and rate limiting, leave nothing behind when clients leave, and end when
// the API stops; `taskengine wait` follows tasks through the stream and polls when it cannot have one.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freePort } from '../support/redis-server.js';
import {
  API_MAIN,
  createTask,
  REPO_ROOT,
  spawnEngineProcess,
  startEngine,
  waitFor,
  waitForStatus,
  writeConfigFile,
  type Engine,
} from '../support/harness.js';
import { TaskEngineClient } from '@taskengine/client';
import { openSse, statusesOf, type SseStream } from '../support/sse-client.js';
import { WorkerFleet } from '../support/worker-processes.js';

const KEY_ALL = 'events-test-key-all-0123';
const KEY_CUSTOM = 'events-test-key-custom-0123';

let engine: Engine;
let fleet: WorkerFleet;
let configPath: string;
const opened: SseStream[] = [];

beforeAll(async () => {
  engine = await startEngine({ label: 'events' });
  configPath = writeConfigFile(engine.prefix);
  fleet = new WorkerFleet(engine, configPath);
  // A worker in a process of its own: every event crosses Redis from it to the API.
  await fleet.start({ WORKER_TASK_TYPES: 'custom,system_command', WORKER_CONCURRENCY: '4' });
});
afterAll(async () => {
  for (const stream of opened) stream.close();
  await fleet?.stopAll();
  await engine?.stop();
  if (configPath) rmSync(dirname(configPath), { recursive: true, force: true });
});

async function sse(base: Engine | string, path: string, headers?: Record<string, string>): Promise<SseStream> {
  const stream = await openSse(`${typeof base === 'string' ? base : base.baseUrl}${path}`, headers);
  opened.push(stream);
  return stream;
}

const sleeper = (ms: number, extra: Record<string, unknown> = {}): Promise<any> =>
  createTask(engine, { payload: { handler: 'sleep', duration_ms: ms }, ...extra });

/** Ids of a stream in order must only grow (they are Redis stream ids, `<ms>-<seq>`). */
function streamIdsGrow(stream: SseStream): boolean {
  const ids = stream.events.map((e) => e.id!.split('-').map(Number) as [number, number]);
  return ids.every((id, i) => i === 0 || id[0] > ids[i - 1]![0] || (id[0] === ids[i - 1]![0] && id[1] > ids[i - 1]![1]));
}

async function openEventStreamsGauge(target: Engine): Promise<number> {
  const text = (await target.request('GET', '/metrics')).body as string;
  return Number(/^taskengine_event_streams (\d+)$/m.exec(text)?.[1]);
}

describe('GET /tasks/{id}/events', () => {
  it('sends the current state, then each change in order, and ends after the final status', async () => {
    // Due in 2 s, so the stream opens while it is pending and sees it queued, run, progress and complete.
    const task = await sleeper(800, { delay_seconds: 2 });
    const stream = await sse(engine, `/tasks/${task.id}/events`);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(stream.headers.get('x-accel-buffering')).toBe('no');
    await stream.ended;
    expect(stream.endedByServer).toBe(true);

    expect(statusesOf(stream)).toEqual(['pending', 'queued', 'running', 'completed']);
    const names = stream.events.map((e) => e.event);
    const running = stream.events.findIndex((e) => e.data.status === 'running');
    const progress = stream.events.filter((e) => e.event === 'progress').map((e) => e.data.progress as number);
    // Every progress report comes between running and completed, and only grows.
    expect(names.slice(running + 1, -1).every((name) => name === 'progress')).toBe(true);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(new Set(progress).size).toBe(progress.length);

    const statuses = stream.events.filter((e) => e.event === 'status').map((e) => e.data);
    expect(statuses.map((s) => s.previous_status)).toEqual([null, 'pending', 'queued', 'running']);
    expect(statuses[0]).toEqual({
      task_id: task.id, type: 'custom', status: 'pending', previous_status: null, progress: 0, error_code: null, retry_count: 0,
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(statuses[3]).toMatchObject({ status: 'completed', progress: 100, error_code: null, retry_count: 0 });
    expect(stream.events.filter((e) => e.event === 'progress')[0]!.data).toEqual({
      task_id: task.id, type: 'custom', progress: progress[0], at: expect.any(String),
    });
    expect(streamIdsGrow(stream)).toBe(true);
    const done = (await engine.request('GET', `/tasks/${task.id}`)).body;
    expect(Math.abs(Date.parse(statuses[3].at) - Date.parse(done.completed_at))).toBeLessThan(1000);
  });

  it('ends with cancelled when a running or a pending task is cancelled', async () => {
    const task = await sleeper(30_000);
    const stream = await sse(engine, `/tasks/${task.id}/events`);
    await stream.next((e) => e.data.status === 'running');
    expect((await engine.request('POST', `/tasks/${task.id}/cancel`)).body).toMatchObject({ status: 'cancelled' });
    await stream.ended;
    expect(stream.endedByServer).toBe(true);
    expect(stream.events.at(-1)!.data).toMatchObject({ status: 'cancelled', previous_status: 'running', error_code: 'cancelled' });

    const later = await createTask(engine, { delay_seconds: 3600 });
    const waiting = await sse(engine, `/tasks/${later.id}/events`);
    await waiting.next((e) => e.data.status === 'pending');
    await engine.request('POST', `/tasks/${later.id}/cancel`);
    await waiting.ended;
    expect(waiting.events.map((e) => [e.data.status, e.data.previous_status, e.data.error_code])).toEqual([
      ['pending', null, null],
      ['cancelled', 'pending', 'cancelled'],
    ]);
  });

  it('shows a retry: pending with the error between attempts, retry_count counting; and ends timeout at a timeout', async () => {
    const failing = await createTask(engine, {
      delay_seconds: 1,
      payload: { handler: 'fail', message: 'not yet' },
      config: { max_retries: 1, retry_delay_seconds: 0.3, backoff: 'fixed' },
    });
    const slow = await sleeper(10_000, { config: { timeout_seconds: 0.5, max_retries: 0 } });
    const [retried, timedOut] = await Promise.all([sse(engine, `/tasks/${failing.id}/events`), sse(engine, `/tasks/${slow.id}/events`)]);
    await Promise.all([retried.ended, timedOut.ended]);
    const steps = retried.events.filter((e) => e.event === 'status').map((e) => [e.data.status, e.data.retry_count, e.data.error_code]);
    expect(steps).toEqual([
      ['pending', 0, null],
      ['queued', 0, null],
      ['running', 0, null],
      ['pending', 0, 'handler_error'],
      ['queued', 0, 'handler_error'],
      ['running', 1, 'handler_error'],
      ['failed', 1, 'handler_error'],
    ]);
    expect(timedOut.events.at(-1)!.data).toMatchObject({ status: 'timeout', previous_status: 'running', error_code: 'timeout' });
  });

  it("sends a finished task's state and ends; 204 to a reconnecting EventSource; 404 for an unknown task", async () => {
    const task = await createTask(engine, { payload: { handler: 'echo' } });
    const done = await waitForStatus(engine, task.id, 'completed');
    const stream = await sse(engine, `/tasks/${task.id}/events`);
    await stream.ended;
    expect(stream.endedByServer).toBe(true);
    expect(stream.events).toHaveLength(1);
    expect(stream.events[0]).toMatchObject({
      event: 'status',
      id: expect.stringMatching(/^\d+-\d+$/),
      data: { task_id: task.id, status: 'completed', previous_status: null, progress: 100, retry_count: done.retry_count },
    });

    const again = await fetch(`${engine.baseUrl}/tasks/${task.id}/events`, { headers: { 'last-event-id': stream.events[0]!.id! } });
    expect(again.status).toBe(204);
    expect(await again.text()).toBe('');
    const unknown = await sse(engine, '/tasks/no-such-task/events');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('task_not_found');
  });
});

describe('GET /events', () => {
  it('streams every task of the types asked for, from a second API replica', async () => {
    const replica = await startEngine({ label: 'events-replica', prefix: engine.prefix });
    try {
      const [customs, commands, all] = await Promise.all([
        sse(replica, '/events?type=custom'),
        sse(replica, '/events?type=system_command'),
        sse(replica, '/events'),
      ]);
      expect(customs.comments).toContain('subscribed');
      const custom = await createTask(engine, { payload: { handler: 'echo' } });
      const command = await createTask(engine, { type: 'system_command', payload: { command: 'echo hi' } });
      await customs.next((e) => e.data.task_id === custom.id && e.data.status === 'completed');
      await commands.next((e) => e.data.task_id === command.id && e.data.status === 'completed');
      await all.next((e) => e.data.task_id === custom.id && e.data.status === 'completed');
      await all.next((e) => e.data.task_id === command.id && e.data.status === 'completed');

      expect(statusesOf(customs, custom.id)).toEqual(['queued', 'running', 'completed']);
      expect(statusesOf(commands, command.id)).toEqual(['queued', 'running', 'completed']);
      expect(new Set(customs.events.map((e) => e.data.type))).toEqual(new Set(['custom']));
      expect(new Set(commands.events.map((e) => e.data.type))).toEqual(new Set(['system_command']));
      expect(statusesOf(all, custom.id)).toEqual(['queued', 'running', 'completed']);
      expect(statusesOf(all, command.id)).toEqual(['queued', 'running', 'completed']);
      expect(customs.events.find((e) => e.data.task_id === custom.id)!.data).toMatchObject({ previous_status: null, retry_count: 0 });

      const bad = await sse(replica, '/events?type=custom,nope');
      expect(bad.status).toBe(400);
      expect(bad.body.error.details).toEqual([{ path: 'type', message: expect.stringContaining('unknown task type "nope"') }]);
    } finally {
      await replica.stop();
    }
  });

  it('resumes where a reconnecting client left off (Last-Event-ID): the events it missed, in order, then live ones', async () => {
    const first = await sse(engine, '/events?type=custom,system_command');
    const seen = await createTask(engine, { payload: { handler: 'echo' } });
    const done = await first.next((e) => e.data.task_id === seen.id && e.data.status === 'completed');
    // Every event's id says where the stream stands in each watched type's event stream.
    expect(done.id).toMatch(/^(custom|system_command)=\d+-\d+;(custom|system_command)=\d+-\d+$/);
    first.close();

    // While the client is away: a task runs start to end, another's events of a second type too.
    const missedCustom = await createTask(engine, { payload: { handler: 'echo' } });
    const missedCommand = await createTask(engine, { type: 'system_command', payload: { command: 'echo hi' } });
    await waitForStatus(engine, missedCustom.id, 'completed');
    await waitForStatus(engine, missedCommand.id, 'completed');

    const resumed = await sse(engine, '/events?type=custom,system_command', { 'last-event-id': done.id! });
    expect(resumed.status).toBe(200);
    await resumed.next((e) => e.data.task_id === missedCommand.id && e.data.status === 'completed');
    await resumed.next((e) => e.data.task_id === missedCustom.id && e.data.status === 'completed');
    expect(statusesOf(resumed, seen.id)).toEqual([]);
    expect(statusesOf(resumed, missedCustom.id)).toEqual(['queued', 'running', 'completed']);
    expect(statusesOf(resumed, missedCommand.id)).toEqual(['queued', 'running', 'completed']);
    expect(resumed.events.filter((e) => e.event === 'resync')).toEqual([]);
    // Then live, with no repeat of what was replayed.
    const live = await createTask(engine, { payload: { handler: 'echo' } });
    await resumed.next((e) => e.data.task_id === live.id && e.data.status === 'completed');
    expect(statusesOf(resumed, live.id)).toEqual(['queued', 'running', 'completed']);
    const ids = resumed.events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    resumed.close();
  });

  it('says resync when a resuming client missed events it cannot get back, and refuses an id it never sent', async () => {
    // A position BullMQ has trimmed away (or never wrote): what is left is sent, with a `resync` first.
    const gone = await sse(engine, '/events?type=custom', { 'last-event-id': 'custom=1-0' });
    expect(gone.status).toBe(200);
    expect((await gone.next((e) => e.event === 'resync')).data).toEqual({ reason: 'events_missed', types: ['custom'] });
    gone.close();
    // The client resumes the same way, and hands the resync on.
    const events = new TaskEngineClient({ url: engine.baseUrl }).events({ type: 'custom' }, { lastEventId: 'custom=1-0' });
    const first = await events.next();
    await events.return(undefined);
    expect(first.value).toEqual({ event: 'resync', id: undefined, data: { reason: 'events_missed', types: ['custom'] } });
    const bad = await sse(engine, '/events?type=custom', { 'last-event-id': 'custom=yesterday' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation_error', details: [{ path: 'Last-Event-ID', message: expect.stringContaining('custom=yesterday') }] });
  });

  it("gives a key scoped to task types only its own types' events", async () => {
    const keyed = await startEngine({
      label: 'events-keys',
      prefix: engine.prefix,
      overrides: { auth: { api_keys: [KEY_ALL, { key: KEY_CUSTOM, name: 'custom-only', task_types: ['custom'] }] } },
    });
    try {
      const scoped = await sse(keyed, '/events', { authorization: `Bearer ${KEY_CUSTOM}` });
      const command = await createTask(engine, { type: 'system_command', payload: { command: 'echo scoped' } });
      const custom = await createTask(engine, { payload: { handler: 'echo' } });
      await scoped.next((e) => e.data.task_id === custom.id && e.data.status === 'completed');
      await waitForStatus(engine, command.id, 'completed');
      expect(scoped.events.some((e) => e.data.task_id === command.id)).toBe(false);

      const refused = await Promise.all([
        sse(keyed, '/events?type=system_command', { authorization: `Bearer ${KEY_CUSTOM}` }),
        sse(keyed, `/tasks/${command.id}/events`, { authorization: `Bearer ${KEY_CUSTOM}` }),
        sse(keyed, '/events'),
      ]);
      expect(refused.map((r) => [r.status, r.body.error.code])).toEqual([[403, 'forbidden'], [403, 'forbidden'], [401, 'unauthorized']]);
      const allowed = await sse(keyed, `/tasks/${command.id}/events`, { 'x-api-key': KEY_ALL });
      await allowed.ended;
      expect(statusesOf(allowed)).toEqual(['completed']);
    } finally {
      await keyed.stop();
    }
  });
});

describe('event streams in the API process', () => {
  it('sends a ping to a quiet stream, and the rate limiter counts the stream as one request', async () => {
    const limited = await startEngine({
      label: 'events-pings',
      prefix: engine.prefix,
      overrides: { server: { events: { heartbeat_seconds: 0.2 }, rate_limit: { enabled: true, window_seconds: 60, max: 3 } } },
    });
    try {
      const quiet = await sse(limited, '/events?type=ai_inference');
      await waitFor(() => quiet.comments.filter((c) => c === 'ping').length >= 3, { what: 'three pings' });
      expect(quiet.comments[0]).toBe('subscribed');
      expect((await limited.request('GET', '/stats')).status).toBe(200);
      expect((await limited.request('GET', '/stats')).status).toBe(200);
      expect((await limited.request('GET', '/stats')).status).toBe(429);
      const pings = quiet.comments.length;
      await waitFor(() => quiet.comments.length >= pings + 2, { what: 'pings after the limit was reached' });
      expect(quiet.endedByServer).toBe(false);
    } finally {
      await limited.stop();
    }
  });

  it('leaves no stream, subscriber or Redis connection behind when many clients come and go', async () => {
    const task = await createTask(engine, { delay_seconds: 3600 });
    const readerConnections = async (): Promise<number> =>
      ((await engine.redis.client('LIST')) as string).split('\n').filter((line) => line.includes(` name=${engine.prefix}:events:`)).length;
    for (let round = 0; round < 3; round++) {
      const streams = await Promise.all([
        ...Array.from({ length: 40 }, () => sse(engine, `/tasks/${task.id}/events`)),
        ...Array.from({ length: 10 }, () => sse(engine, '/events')),
      ]);
      await Promise.all(streams.slice(0, 40).map((s) => s.next((e) => e.data.status === 'pending')));
      expect(await openEventStreamsGauge(engine)).toBe(50);
      // One reader per task type, however many clients.
      expect(await readerConnections()).toBe(6);
      for (const stream of streams) stream.close();
      await waitFor(async () => (await openEventStreamsGauge(engine)) === 0, { what: 'every stream to be closed' });
    }
    // The readers disconnect a little after their last subscriber left.
    await waitFor(async () => (await readerConnections()) === 0, { timeoutMs: 15_000, intervalMs: 250, what: 'the readers to disconnect' });
    await engine.request('POST', `/tasks/${task.id}/cancel`);
  });

  it('ends open streams on SIGTERM, and the API process exits promptly', async () => {
    const port = await freePort();
    const apiConfig = writeConfigFile(engine.prefix, { server: { host: '127.0.0.1', port } });
    const api = spawnEngineProcess(API_MAIN, apiConfig);
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${base}/health`)).ok, { timeoutMs: 20_000, intervalMs: 100, what: 'the API process' });
      const task = await createTask(engine, { delay_seconds: 3600 });
      const streams = [await sse(base, `/tasks/${task.id}/events`), await sse(base, '/events')];
      await streams[0]!.next((e) => e.data.status === 'pending');
      const signalled = Date.now();
      api.child.kill('SIGTERM');
      const exit = await api.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalled).toBeLessThan(3000);
      await Promise.all(streams.map((s) => s.ended));
      expect(streams.map((s) => s.endedByServer)).toEqual([true, true]);
      await engine.request('POST', `/tasks/${task.id}/cancel`);
    } finally {
      if (api.child.exitCode === null) api.child.kill('SIGKILL');
      rmSync(dirname(apiConfig), { recursive: true, force: true });
    }
  });
});

describe('taskengine wait', () => {
  const CLI = join(REPO_ROOT, 'packages/client/dist/cli.js');
  function cli(url: string, ...args: string[]) {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', TASKENGINE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
    return { stderr: () => stderr, done };
  }

  it('follows the task through its event stream and exits by how it ended', async () => {
    const running = await sleeper(30_000);
    const waiting = cli(engine.baseUrl, 'wait', running.id, '--interval', '60000');
    // With polling slowed to once a minute, only the stream can show it the running task at once.
    await waitFor(() => waiting.stderr().includes('running'), { what: 'the CLI to see the task running' });
    expect(await openEventStreamsGauge(engine)).toBe(1);
    await engine.request('POST', `/tasks/${running.id}/cancel`);
    const cancelled = await waiting.done;
    expect(cancelled.code).toBe(3);
    expect(cancelled.stdout).toMatch(new RegExp(`^cancelled {2}${running.id} `));

    const [echo, failing, slow] = await Promise.all([
      createTask(engine, { payload: { handler: 'echo' } }),
      createTask(engine, { payload: { handler: 'fail', retryable: false } }),
      sleeper(10_000, { config: { timeout_seconds: 0.5, max_retries: 0 } }),
    ]);
    const runs = await Promise.all([echo, failing, slow].map((t) => cli(engine.baseUrl, 'wait', t.id, '--interval', '60000').done));
    expect(runs.map((r) => r.code)).toEqual([0, 1, 2]);
    expect(runs[0]!.stderr).toMatch(/\] completed 100%\n$/);
  });

  it('polls when the API refuses the event stream', async () => {
    // A proxy in front of the API that has no event routes, like an API from before them.
    const proxy: Server = createServer((req, res) => {
      if (req.url?.split('?')[0]!.endsWith('/events')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"success":false,"error":{"code":"not_found","message":"no route"}}');
        return;
      }
      const target = new URL(engine.baseUrl);
      const upstream = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const address = proxy.address() as { port: number };
      const task = await sleeper(500);
      const run = await cli(`http://127.0.0.1:${address.port}`, 'wait', task.id, '--interval', '50').done;
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^completed {2}${task.id} `));
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
