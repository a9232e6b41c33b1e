// `npm start` (apps/launcher): with no Redis answering at its URL it starts a private redis-server, runs
// the api and a worker, and on SIGTERM stops all three and exits 0, leaving no process behind; the
// private Redis keeps its data (AOF) for the next start. Real processes throughout.
import { afterAll, describe, expect, it } from '@jest/globals';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { processGone } from '../support/processes.js';
import { freePort } from '../support/redis-server.js';
import { REPO_ROOT, request, spawnEngineProcess, uniquePrefix, waitFor, writeConfigFile, type EngineProcess } from '../support/harness.js';

const LAUNCHER_MAIN = join(REPO_ROOT, 'apps/launcher/dist/main.js');
const started: EngineProcess[] = [];
let configPath: string;

afterAll(() => {
  for (const launcher of started) if (launcher.child.exitCode === null) launcher.child.kill('SIGKILL');
  if (configPath) rmSync(dirname(configPath), { recursive: true, force: true });
});

interface Running {
  launcher: EngineProcess;
  pids: { api: number; worker: number; redis: number };
  baseUrl: string;
}

async function launch(redisPort: number, apiPort: number): Promise<Running> {
  const launcher = spawnEngineProcess(LAUNCHER_MAIN, configPath, { REDIS_URL: `redis://127.0.0.1:${redisPort}` });
  started.push(launcher);
  const text = await waitFor(() => /started api pid \d+, worker pid \d+/.test(launcher.output()) && launcher.output(), {
    timeoutMs: 30_000,
    what: 'the launcher to start its children',
  });
  const pid = (pattern: RegExp): number => Number(pattern.exec(text)![1]);
  const baseUrl = `http://127.0.0.1:${apiPort}`;
  await waitFor(async () => (await request(baseUrl, 'GET', '/health')).status === 200, { what: 'the API' });
  return { launcher, baseUrl, pids: { api: pid(/api pid (\d+)/), worker: pid(/worker pid (\d+)/), redis: pid(/private Redis \(pid (\d+)\)/) } };
}

async function stop({ launcher, pids }: Running): Promise<void> {
  launcher.child.kill('SIGTERM');
  expect(await launcher.exited).toEqual({ code: 0, signal: null });
  for (const pid of Object.values(pids)) expect(processGone(pid)).toBe(true);
}

describe('npm start', () => {
  it('runs a private Redis, the api and a worker; stops them all on SIGTERM; keeps the data', async () => {
    const [redisPort, apiPort] = [await freePort(), await freePort()];
    configPath = writeConfigFile(uniquePrefix('launcher'), { server: { host: '127.0.0.1', port: apiPort } });
    const first = await launch(redisPort, apiPort);
    expect(first.launcher.output()).toContain(`starting a private redis-server on 127.0.0.1:${redisPort}`);
    const created = await request(first.baseUrl, 'POST', '/tasks', { type: 'custom', payload: { note: 'kept' } });
    expect(created.status).toBe(201);
    const id = created.body.task_id;
    await waitFor(async () => (await request(first.baseUrl, 'GET', `/tasks/${id}`)).body.status === 'completed', { what: 'the task done by the worker' });
    await stop(first);

    const second = await launch(redisPort, apiPort);
    const again = await request(second.baseUrl, 'GET', `/tasks/${id}`);
    expect(again.body).toMatchObject({ status: 'completed', payload: { note: 'kept' } });
    await stop(second);
  }, 90_000);
});
