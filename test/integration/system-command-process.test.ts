// system_command in a real worker process (`apps/worker/dist/main.js`), whose environment holds secrets:
// none of them reaches a command; the worker's own allowlist is checked again at run time; and SIGTERM
// to the worker leaves no child or grandchild behind, even ones that ignore SIGTERM.
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createTask,
  redisUrl,
  spawnWorkerProcess,
  startEngine,
  waitForStatus,
  writeConfigFile,
  type Engine,
  type EngineProcess,
} from '../support/harness.js';
import { CHILD_WITH_GRANDCHILD, killAll, pidFromFile, waitGone } from '../support/processes.js';

const FINAL = ['completed', 'failed', 'cancelled', 'timeout'];
const secret = `te-secret-${randomBytes(8).toString('hex')}`;

let base: string;
let workdir: string;
let engine: Engine;
let worker: EngineProcess;
const started = new Set<number>();

beforeAll(async () => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'taskengine-cmdproc-')));
  workdir = join(base, 'work');
  // The API allows `date`; the worker below does not.
  const settings = { workdir, allowed_commands: ['sh', 'env', 'date'] };
  engine = await startEngine({ label: 'syscmd-proc', overrides: { executors: { system_command: settings } } });
  const configPath = writeConfigFile(engine.prefix, {
    executors: { system_command: { ...settings, allowed_commands: ['sh', 'env'], kill_grace_seconds: 30 } },
    workers: { shutdown_grace: 0.2 },
  });
  worker = spawnWorkerProcess(configPath, {
    WORKER_TASK_TYPES: 'system_command',
    TASKENGINE_TEST_SECRET: secret,
    ONEAPI_API_KEY: `oneapi-${secret}`,
    TASKENGINE_API_KEYS: `apikey-${secret}`,
  });
}, 20_000);

afterAll(async () => {
  killAll(started);
  worker?.child.kill('SIGKILL');
  await worker?.exited;
  await engine?.stop();
  rmSync(base, { recursive: true, force: true });
}, 20_000);

async function run(payload: Record<string, unknown>): Promise<any> {
  const task = await createTask(engine, { type: 'system_command', payload, config: { max_retries: 2, retry_delay_seconds: 0 } });
  return waitForStatus(engine, task.id, FINAL, 20_000);
}

describe('system_command in a worker process', () => {
  it('gives the command none of the worker\'s environment', async () => {
    const task = await run({ command: 'env' });
    expect(task.status).toBe('completed');
    const stdout: string = task.result.stdout;
    expect(stdout).not.toContain(secret);
    expect(stdout).not.toContain(redisUrl());
    const names = stdout.trim().split('\n').map((line) => line.slice(0, line.indexOf('=')));
    expect(names.sort()).toEqual(['HOME', 'LANG', 'PATH']);
    expect(stdout).toContain(`HOME=${workdir}\n`);
  });

  it('checks its own allowlist again: command_not_allowed, without retry', async () => {
    const task = await run({ command: 'date' });
    expect(task).toMatchObject({ status: 'failed', error_code: 'command_not_allowed', retry_count: 0 });
    expect(task.error).toContain('command "date" is not allowed; allowed commands: sh, env');
  });

  it('leaves no child or grandchild behind when it is stopped with SIGTERM', async () => {
    const dir = join(workdir, 'sigterm');
    mkdirSync(dir, { recursive: true });
    // Both ignore SIGTERM, and kill_grace_seconds is 30: only the SIGKILL at the worker's exit stops them in time.
    const task = await createTask(engine, {
      type: 'system_command',
      payload: { command: 'sh', args: ['-c', `trap '' TERM; ${CHILD_WITH_GRANDCHILD}`], cwd: 'sigterm' },
    });
    const pids = [await pidFromFile(join(dir, 'child.pid')), await pidFromFile(join(dir, 'grandchild.pid'))];
    pids.forEach((pid) => started.add(pid));
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    await waitGone(pids, 5_000);
    expect((await engine.request('GET', `/tasks/${task.id}`)).body.status).toBe('queued');
  });
});
