// A task's own log (CONTRACT section 7, GET /tasks/{id}/logs) with a real worker on a real Redis: the
// lines a handler writes through ctx.log, in order, with their level and attempt, across a retry;
// secret-looking fields masked; capped per task and per line; there as soon as the final status is;
// nothing stored for a task that logs nothing or for a handler that logs after its attempt ended; and
// gone with the task when it leaves retention.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, RetentionJanitor, TaskKeys } from '@taskengine/core';
import { createTask, startEngine, waitFor, waitForStatus, type Engine } from '../support/harness.js';
import { openSse } from '../support/sse-client.js';

let dir: string;
let engine: Engine;
let handlers: Record<string, string>;
// The handlers log errors on purpose: keep them out of the test output.
const logger = createLogger({ logging: { level: 'error', format: 'json' } }, 'test');
for (const transport of logger.transports) transport.silent = true;

const HANDLERS: Record<string, string> = {
  // Logs at every level (and through the callable form), fails its first attempt, completes the second.
  chatty: `
    export default async function chatty(payload, { log, task }) {
      log('plain line');
      log.debug('debug line', { n: task.attempt });
      log.info('info line');
      log.warn('warn line', { api_key: 'sk-secret-123', nested: { password: 'hunter2' }, shown: 'visible' });
      if (task.attempt === 1) {
        log.error('giving up on this attempt', { error: new Error('upstream said no') });
        throw new Error('first attempt fails');
      }
      log.info('done');
      return { ok: true };
    }`,
  // More lines than a task keeps, and one line longer than a line may be.
  flood: `
    export default async function flood(payload, { log }) {
      for (let i = 1; i <= 120; i++) log.info('line ' + i);
      log.warn('x'.repeat(5000));
      return null;
    }`,
  // Ignores its signal and logs after its attempt timed out: those lines are not the task's.
  late: `
    export default async function late(payload, { log }) {
      log.info('before the timeout');
      await new Promise((resolve) => setTimeout(resolve, 800));
      log.info('after the timeout');
      globalThis.__lateLogged = true;
      return null;
    }`,
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'taskengine-task-logs-'));
  handlers = {};
  for (const [name, source] of Object.entries(HANDLERS)) {
    handlers[name] = join(dir, `${name}.mjs`);
    writeFileSync(handlers[name]!, source);
  }
  engine = await startEngine({
    label: 'task-logs',
    logger,
    overrides: { executors: { custom: { handlers } }, logging: { task_log: { max_lines: 50, max_line_length: 200 } } },
    worker: true,
  });
});
afterAll(async () => {
  await engine?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const logsOf = async (id: string): Promise<any> => (await engine.request('GET', `/tasks/${id}/logs`)).body;

describe('GET /tasks/{id}/logs', () => {
  it("returns the executor's lines in order, with levels and attempts, across a retry, as soon as the task is final", async () => {
    const task = await createTask(engine, { payload: { handler: 'chatty' }, config: { max_retries: 1, retry_delay_seconds: 0 } });
    // Read the log the moment the stream says completed: its lines must already be there.
    const stream = await openSse(`${engine.baseUrl}/tasks/${task.id}/events`);
    await stream.ended;
    expect(stream.events.at(-1)!.data.status).toBe('completed');
    const body = await logsOf(task.id);

    expect(body.task_id).toBe(task.id);
    expect(body.count).toBe(10);
    expect(body.logs.map((l: any) => [l.attempt, l.level, l.message])).toEqual([
      [1, 'info', 'plain line'],
      [1, 'debug', 'debug line {"n":1}'],
      [1, 'info', 'info line'],
      [1, 'warn', 'warn line {"api_key":"[redacted]","nested":{"password":"[redacted]"},"shown":"visible"}'],
      [1, 'error', 'giving up on this attempt {"error":"Error: upstream said no"}'],
      [2, 'info', 'plain line'],
      [2, 'debug', 'debug line {"n":2}'],
      [2, 'info', 'info line'],
      [2, 'warn', 'warn line {"api_key":"[redacted]","nested":{"password":"[redacted]"},"shown":"visible"}'],
      [2, 'info', 'done'],
    ]);
    const times = body.logs.map((l: any) => Date.parse(l.time));
    expect(body.logs[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const done = (await engine.request('GET', `/tasks/${task.id}`)).body;
    expect(done).toMatchObject({ status: 'completed', retry_count: 1 });
    expect(JSON.stringify(body)).not.toMatch(/sk-secret-123|hunter2/);
  });

  it('keeps the newest lines up to logging.task_log.max_lines, each cut at max_line_length', async () => {
    const task = await createTask(engine, { payload: { handler: 'flood' } });
    await waitForStatus(engine, task.id, 'completed');
    const body = await logsOf(task.id);
    expect(body.count).toBe(50);
    expect(body.logs[0].message).toBe('line 72');
    expect(body.logs[48].message).toBe('line 120');
    const long = body.logs[49];
    expect(long.level).toBe('warn');
    expect(long.message).toHaveLength(200);
    expect(long.message).toMatch(/^x+ … \[\d+ more characters cut\]$/);
  });

  it('stores nothing for a task that logs nothing, nor for a handler that logs after its attempt ended', async () => {
    const quiet = await createTask(engine, { payload: { handler: 'echo' } });
    const late = await createTask(engine, { payload: { handler: 'late' }, config: { timeout_seconds: 0.3, max_retries: 0 } });
    await waitForStatus(engine, quiet.id, 'completed');
    await waitForStatus(engine, late.id, 'timeout');
    expect(await logsOf(quiet.id)).toEqual({ task_id: quiet.id, logs: [], count: 0 });
    expect(await engine.redis.exists(new TaskKeys(engine.prefix).taskLog('custom', quiet.id))).toBe(0);
    // The abandoned handler goes on and logs once more; that line must never land.
    await waitFor(() => (globalThis as any).__lateLogged === true, { what: 'the abandoned handler to log again' });
    // Proving that nothing lands takes a wait: longer than a buffered write ever waits (100 ms).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await logsOf(late.id)).logs.map((l: any) => l.message)).toEqual(['before the timeout']);
  });

  it('answers 404 for an unknown task', async () => {
    const res = await engine.request('GET', '/tasks/no-such-task/logs');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('task_not_found');
  });

  it('removes the log with its task when the task leaves retention', async () => {
    // Completed tasks leave retention after 1.8 s here.
    const short = await startEngine({ label: 'task-logs-retention', logger, overrides: { executors: { custom: { handlers } }, tasks: { max_age_hours: 0.0005 } }, worker: true });
    try {
      const task = await createTask(short, { payload: { handler: 'chatty' }, config: { max_retries: 1, retry_delay_seconds: 0 } });
      await waitForStatus(short, task.id, 'completed');
      const key = new TaskKeys(short.prefix).taskLog('custom', task.id);
      expect((await short.request('GET', `/tasks/${task.id}/logs`)).body.count).toBe(10);
      const janitor = new RetentionJanitor(short.redis, new TaskKeys(short.prefix), short.config);
      await waitFor(async () => {
        await janitor.runOnce();
        return (await short.request('GET', `/tasks/${task.id}/logs`)).status === 404;
      }, { timeoutMs: 10_000, intervalMs: 200, what: 'the task to leave retention' });
      expect(await short.redis.exists(key)).toBe(0);
    } finally {
      await short.stop();
    }
  });
});
