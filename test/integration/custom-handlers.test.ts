// `custom` handlers loaded from modules named in config.yaml: they run with the full context (signal,
// progress, log, task), their errors fail their task and never the worker, their error codes and
// Retry-After hints are honoured, and a module that cannot load stops the worker at start, named.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTask, startEngine, waitFor, waitForStatus, type Engine } from '../support/harness.js';

let dir: string;
let engine: Engine | undefined;

/** What the plugins record, shared with this test through globalThis (the worker runs in-process). */
const seen = (): Record<string, number[]> => ((globalThis as any).__pluginSeen ??= {});

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'taskengine-plugins-'));
  const write = (name: string, source: string): string => {
    const path = join(dir, name);
    writeFileSync(path, source);
    return path;
  };
  write('greet.mjs', `
    export default async function greet(payload, { progress, log, task }) {
      progress(50);
      log.info('greeting', { who: payload.who });
      return { greeting: 'hello ' + payload.who, task_name: task.name, attempt: task.attempt };
    }`);
  write('named.mjs', `export async function handler(payload) { return { doubled: payload.n * 2 }; }`);
  write('crash.mjs', `export default async function crash() { throw new Error('plugin blew up'); }`);
  write('coded.mjs', `
    export default async function coded() {
      throw Object.assign(new Error('quota used up'), { code: 'quota_exceeded', retryable: false });
    }`);
  write('busy.mjs', `
    export default async function busy(payload, { task }) {
      const seen = (globalThis.__pluginSeen ??= {});
      (seen[task.id] ??= []).push(Date.now());
      if (task.attempt === 1) throw Object.assign(new Error('come back later'), { code: 'upstream_busy', retryAfterMs: 1200 });
      return { attempts: task.attempt };
    }`);
  write('wait-abort.mjs', `
    export default function waitAbort(payload, { signal }) {
      return new Promise((resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }`);
  write('broken.mjs', 'export default async function ( {');
  write('no-export.mjs', 'export const notAFunction = 42;');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

const plugins = (names: string[]): Record<string, unknown> => ({
  executors: { custom: { handlers: Object.fromEntries(names.map((name) => [name, join(dir, `${name}.mjs`)])) } },
});

describe('custom handler modules', () => {
  const loadable = ['greet', 'named', 'crash', 'coded', 'busy', 'wait-abort'];

  it('runs a default-export and a named-export handler with the task context', async () => {
    engine = await startEngine({ label: 'plugins', overrides: plugins(loadable), worker: true });
    const greet = await createTask(engine, { name: 'hello-task', payload: { handler: 'greet', who: 'galaxy' } });
    const named = await createTask(engine, { payload: { handler: 'named', n: 21 } });
    const done = await waitForStatus(engine, greet.id, 'completed');
    expect(done.result).toEqual({ greeting: 'hello galaxy', task_name: 'hello-task', attempt: 1 });
    expect(done.progress).toBe(100);
    expect((await waitForStatus(engine, named.id, 'completed')).result).toEqual({ doubled: 42 });
  });

  it('fails the task, not the worker, when a handler throws', async () => {
    engine = await startEngine({ label: 'plugins-crash', overrides: plugins(loadable), worker: true });
    const crash = await createTask(engine, { payload: { handler: 'crash' }, config: { max_retries: 1, retry_delay_seconds: 0.05 } });
    const failed = await waitForStatus(engine, crash.id, 'failed');
    expect(failed).toMatchObject({ error_code: 'handler_error', error: 'plugin blew up', retry_count: 1 });
    const after = await createTask(engine, { payload: { handler: 'echo' } });
    expect((await waitForStatus(engine, after.id, 'completed')).status).toBe('completed');
  });

  it("keeps a handler error's own code and its retryable: false", async () => {
    engine = await startEngine({ label: 'plugins-coded', overrides: plugins(loadable), worker: true });
    const task = await createTask(engine, { payload: { handler: 'coded' }, config: { max_retries: 3 } });
    expect(await waitForStatus(engine, task.id, 'failed')).toMatchObject({ error_code: 'quota_exceeded', retry_count: 0 });
  });

  it('waits at least the Retry-After a failed attempt asked for, beyond the planned back-off', async () => {
    engine = await startEngine({ label: 'plugins-busy', overrides: plugins(loadable), worker: true });
    const task = await createTask(engine, { payload: { handler: 'busy' }, config: { max_retries: 2, retry_delay_seconds: 0.05, backoff: 'fixed' } });
    const done = await waitForStatus(engine, task.id, 'completed');
    expect(done).toMatchObject({ result: { attempts: 2 }, retry_count: 1 });
    const [first, second] = seen()[task.id]!;
    expect(second! - first!).toBeGreaterThanOrEqual(1200);
  });

  it('stops a handler that honours its signal when the task is cancelled', async () => {
    engine = await startEngine({ label: 'plugins-cancel', overrides: plugins(loadable), worker: true });
    const task = await createTask(engine, { payload: { handler: 'wait-abort' } });
    await waitForStatus(engine, task.id, 'running');
    const res = await engine.request('POST', `/tasks/${task.id}/cancel`);
    expect(res.body).toMatchObject({ status: 'cancelled', previous_status: 'running' });
  });

  it('refuses an unknown handler at creation, listing the loaded ones', async () => {
    engine = await startEngine({ label: 'plugins-unknown', overrides: plugins(['greet']) });
    const res = await engine.request('POST', '/tasks', { type: 'custom', payload: { handler: 'nope' } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('unknown handler "nope"; known: echo, sleep, fail, greet');
  });

  it.each([
    ['broken', 'could not be loaded'],
    ['no-export', 'exports no function'],
    ['missing', 'could not be loaded'],
  ])('stops the worker at start when module %s cannot serve, naming it', async (name, problem) => {
    engine = await startEngine({ label: 'plugins-bad', overrides: plugins(['greet', name]) });
    await expect(engine.startWorker()).rejects.toThrow(`custom handler "${name}": module ${join(dir, `${name}.mjs`)}`);
    await expect(engine.startWorker()).rejects.toThrow(problem);
    // The API still answers: it validates names without importing plugin code.
    expect((await engine.request('GET', '/health')).status).toBe(200);
  });
});

describe('retry back-off without hints', () => {
  it('keeps the planned fixed delay when no Retry-After was given', async () => {
    engine = await startEngine({ label: 'plugins-nohint', worker: true });
    const task = await createTask(engine, { payload: { handler: 'fail' }, config: { max_retries: 2, retry_delay_seconds: 0.05, backoff: 'fixed' } });
    const failed = await waitFor(async () => {
      const t = (await engine!.request('GET', `/tasks/${task.id}`)).body;
      return t.status === 'failed' ? t : undefined;
    }, { timeoutMs: 5000, what: 'fail after quick retries' });
    expect(failed.retry_count).toBe(2);
    expect(Date.parse(failed.completed_at) - Date.parse(failed.created_at)).toBeLessThan(1200);
  });
});
