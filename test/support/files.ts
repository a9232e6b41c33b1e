// Helpers for the file-touching task types: a sandbox folder per test file (the root, a sibling named
// like it with a suffix, and a secret file outside), and running one task to its end.
import { closeSync, mkdirSync, mkdtempSync, openSync, realpathSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from '@jest/globals';
import { createTask, waitForStatus, type Engine } from './harness.js';

export interface Sandbox {
  base: string;
  root: string;
  /** `<base>/root-evil`: shares the root's name as a prefix, outside it. */
  sibling: string;
  /** `<base>/secret.txt`, outside the root. */
  secret: string;
  cleanup(): void;
}

export const SECRET = 'top secret\n';

export function makeSandbox(label: string): Sandbox {
  const base = realpathSync(mkdtempSync(join(tmpdir(), `taskengine-${label}-`)));
  const root = join(base, 'root');
  const sibling = join(base, 'root-evil');
  mkdirSync(root);
  mkdirSync(sibling);
  writeFileSync(join(sibling, 'x'), SECRET);
  const secret = join(base, 'secret.txt');
  writeFileSync(secret, SECRET);
  return { base, root, sibling, secret, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

export const TERMINAL = ['completed', 'failed', 'timeout', 'cancelled'];

/** Creates a task (retries allowed, so a non-retryable failure shows as retry_count 0) and waits for its end. */
export async function runTask(engine: Engine, type: string, payload: Record<string, unknown>, config: Record<string, unknown> = {}): Promise<any> {
  const task = await createTask(engine, { type, payload, config: { max_retries: 2, retry_delay_seconds: 0, ...config } });
  return waitForStatus(engine, task.id, TERMINAL);
}

export async function expectCompleted(engine: Engine, type: string, payload: Record<string, unknown>): Promise<any> {
  const task = await runTask(engine, type, payload);
  expect({ status: task.status, error: task.error }).toEqual({ status: 'completed', error: null });
  return task.result;
}

/** Runs a task that must fail at once (no retry) with `code`; returns the task. */
export async function expectFailure(engine: Engine, type: string, payload: Record<string, unknown>, code: string): Promise<any> {
  const task = await runTask(engine, type, payload);
  expect({ status: task.status, error_code: task.error_code, retry_count: task.retry_count }).toEqual({ status: 'failed', error_code: code, retry_count: 0 });
  return task;
}

/** POST /tasks must answer 400 validation_error with a detail at `path`. */
export async function expectRejected(engine: Engine, type: string, payload: Record<string, unknown>, path: string): Promise<any> {
  const res = await engine.request('POST', '/tasks', { type, payload });
  expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 400, code: 'validation_error' });
  expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  return res.body.error;
}

export const BLOCK_ROWS = 10_000;

/**
 * Writes about `megabytes` MB of NDJSON: one block of 10 000 rows (country cycles through 5 values,
 * score through 0..99.9) written again and again, which is fast. Returns how many rows and blocks.
 */
export function writeLargeNdjson(path: string, megabytes: number): { rows: number; blocks: number; bytes: number } {
  const countries = ['FR', 'DE', 'US', 'JP', 'BR'];
  const lines = Array.from({ length: BLOCK_ROWS }, (_, i) =>
    JSON.stringify({ id: i, user: { name: `user${i}`, age: 18 + (i % 60) }, country: countries[i % 5], score: (i % 1000) / 10, note: 'lorem ipsum dolor sit amet' }),
  );
  const block = Buffer.from(lines.join('\n') + '\n');
  const fd = openSync(path, 'w');
  let blocks = 0;
  try {
    while (blocks * block.length < megabytes * 1e6) {
      writeSync(fd, block);
      blocks += 1;
    }
  } finally {
    closeSync(fd);
  }
  return { rows: blocks * BLOCK_ROWS, blocks, bytes: blocks * block.length };
}
