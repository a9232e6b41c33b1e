// Test harness: an engine (API in-process on a free port, optional in-process worker) on the test
// Redis under a key prefix of its own, plus helpers to call it over real HTTP and to wait for
// conditions with a deadline (never a fixed sleep).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '@taskengine/api/app';
import { answerNodeRefusals } from '@taskengine/api/node-refusals';
import {
  createLogger,
  createRedis,
  dataNodes,
  loadConfig,
  TaskStore,
  type Config,
  type ExecutorRegistry,
  type Logger,
  type RedisClient,
  type TaskType,
} from '@taskengine/core';
import { createExecutorRegistry } from '@taskengine/executors';
import { WorkerService } from '@taskengine/worker/worker-service';
import type { Express } from 'express';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';

export const REPO_ROOT = new URL('../../../', import.meta.url).pathname;

export function redisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run the tests through jest (globalSetup starts Redis)');
  return url;
}

export const uniquePrefix = (label: string): string => `te-test-${label}-${randomBytes(3).toString('hex')}`;

/** Config for a test: repo defaults, fast timings, the given overrides, its own prefix. */
export function testConfigTree(prefix: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, any> = {
    redis: process.env.TEST_REDIS_CLUSTER_NODES
      ? { mode: 'cluster', nodes: process.env.TEST_REDIS_CLUSTER_NODES.split(','), prefix }
      : { url: redisUrl(), prefix },
    logging: { level: 'error' },
    server: { port: 0, host: '127.0.0.1', cancel_wait_seconds: 5 },
    workers: { heartbeat_interval: 1, lock_duration: 2, stalled_interval: 1, max_stalled_count: 1, shutdown_grace: 5 },
    // No StateMachine runs beside the tests; the tests that need one start a stand-in.
    dependencies: { state_machine: { enabled: false } },
  };
  for (const [section, value] of Object.entries(overrides)) {
    base[section] = typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...(base[section] ?? {}), ...value } : value;
  }
  return base;
}

export function testConfig(prefix: string, overrides: Record<string, unknown> = {}): Config {
  return loadConfig({ path: join(REPO_ROOT, 'config.yaml'), env: {}, overrides: testConfigTree(prefix, overrides) });
}

/** Writes a YAML config for child processes; returns its path. */
export function writeConfigFile(prefix: string, overrides: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'taskengine-config-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, stringify(testConfigTree(prefix, overrides)));
  return path;
}

export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 15_000, intervalMs = 25, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface HttpResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface Engine {
  prefix: string;
  /** The Express app behind baseUrl (e.g. to list the routes it serves). */
  app: Express;
  config: Config;
  baseUrl: string;
  redis: RedisClient;
  store: TaskStore;
  worker?: WorkerService;
  request<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult<T>>;
  startWorker(options?: { types?: TaskType[]; concurrency?: number }): Promise<WorkerService>;
  stop(): Promise<void>;
}

export async function request<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  /** Give up (reject) after this long, so a request that hangs fails the test instead of stalling it. */
  timeoutMs?: number,
): Promise<HttpResult<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (timeoutMs !== undefined) init.signal = AbortSignal.timeout(timeoutMs);
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(baseUrl + path, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export async function startEngine(
  options: {
    label?: string;
    /** Share another engine's key prefix (a second API replica on the same data). */
    prefix?: string;
    overrides?: Record<string, unknown>;
    worker?: boolean | { types?: TaskType[]; concurrency?: number };
    /** Executors to use instead of the build's own (e.g. a probe handler that records its signal). */
    executors?: ExecutorRegistry;
    /** Logger for the API and workers instead of one at the config's level (e.g. to read what is logged). */
    logger?: Logger;
  } = {},
): Promise<Engine> {
  const prefix = options.prefix ?? uniquePrefix(options.label ?? 'engine');
  const config = testConfig(prefix, options.overrides);
  const logger = options.logger ?? createLogger(config, 'test');
  const redis = createRedis(config, 'api');
  await waitFor(() => redis.status === 'ready', { what: 'redis connection' });
  const store = new TaskStore(redis, config);
  const executors = options.executors ?? createExecutorRegistry(config);
  // Ends the app's live event streams at stop(), as SIGTERM does in main.ts.
  const shutdown = new AbortController();
  const app = createApp({ config, redis, store, executors, logger, shutdown: shutdown.signal });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  answerNodeRefusals(server);
  const address = server.address();
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const workers: Array<{ service: WorkerService; redis: RedisClient }> = [];
  const engine: Engine = {
    prefix,
    app,
    config,
    baseUrl,
    redis,
    store,
    request: (method, path, body, headers) => request(baseUrl, method, path, body, headers),
    async startWorker(workerOptions = {}) {
      const types = workerOptions.types ?? (['custom'] as TaskType[]);
      const workerRedis = createRedis(config, 'worker');
      const service = new WorkerService({
        config,
        redis: workerRedis,
        executors,
        logger,
        types,
        concurrencyByType: Object.fromEntries(types.map((type) => [type, workerOptions.concurrency ?? 5])),
      });
      try {
        await service.start();
      } catch (err) {
        await workerRedis.quit().catch(() => {});
        throw err;
      }
      workers.push({ service, redis: workerRedis });
      engine.worker ??= service;
      return service;
    },
    async stop() {
      shutdown.abort();
      await Promise.all(workers.map(({ service }) => service.stop(0)));
      await Promise.all(workers.map(({ redis: r }) => r.quit().catch(() => {})));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await deletePrefix(redis, prefix);
      await store.close();
      await redis.quit().catch(() => {});
    },
  };
  if (options.worker) await engine.startWorker(options.worker === true ? {} : options.worker);
  return engine;
}

export async function deletePrefix(redis: RedisClient, prefix: string): Promise<void> {
  // A cluster's keys are spread over its masters: scan each, and delete key by key (slots differ).
  for (const node of dataNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await Promise.all(keys.map((key) => redis.unlink(key)));
    } while (cursor !== '0');
  }
}

export async function createTask(engine: Engine, body: Record<string, unknown>): Promise<any> {
  const res = await engine.request('POST', '/tasks', { type: 'custom', ...body });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.task;
}

/** Waits until every task is final; returns the status of each that did not complete. */
export async function tasksNotCompleted(engine: Engine, ids: string[], timeoutMs: number): Promise<Record<string, string>> {
  const final = ['completed', 'failed', 'cancelled', 'timeout'];
  const statuses = new Map<string, string>();
  await waitFor(
    async () => {
      for (const id of ids) {
        if (final.includes(statuses.get(id) ?? '')) continue;
        const res = await engine.request('GET', `/tasks/${id}`);
        if (res.status === 200) statuses.set(id, res.body.status);
      }
      return ids.every((id) => final.includes(statuses.get(id) ?? ''));
    },
    { timeoutMs, intervalMs: 200, what: `${ids.length} tasks to finish` },
  );
  return Object.fromEntries([...statuses].filter(([, status]) => status !== 'completed'));
}

export const createTaskId = async (engine: Engine, body: Record<string, unknown>): Promise<string> => (await createTask(engine, body)).id as string;

/** Stops the engine, giving up after `ms`: a stop that cannot reach Redis must not keep the test's processes alive. */
export async function stopWithin(engine: Engine | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([engine?.stop().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

export async function waitForStatus(engine: Engine, id: string, statuses: string | string[], timeoutMs = 15_000): Promise<any> {
  const wanted = Array.isArray(statuses) ? statuses : [statuses];
  return waitFor(
    async () => {
      const res = await engine.request('GET', `/tasks/${id}`);
      return wanted.includes(res.body.status) ? res.body : undefined;
    },
    { timeoutMs, what: `task ${id} to be ${wanted.join('|')}` },
  );
}

export const WORKER_MAIN = join(REPO_ROOT, 'apps/worker/dist/main.js');
export const API_MAIN = join(REPO_ROOT, 'apps/api/dist/main.js');

export interface EngineProcess {
  child: ChildProcess;
  pid: number;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a real engine process (`main`: WORKER_MAIN or API_MAIN) on the test Redis with the given config file. */
export function spawnEngineProcess(main: string, configPath: string, env: Record<string, string> = {}): EngineProcess {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    TASKENGINE_CONFIG: configPath,
    REDIS_URL: redisUrl(),
    LOG_LEVEL: 'error',
    ...env,
  };
  delete childEnv.NODE_OPTIONS; // jest's --experimental-vm-modules is not for the child
  const child = spawn(process.execPath, [main], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  if (child.pid === undefined) throw new Error(`${main} did not start`);
  return { child, pid: child.pid, output: () => output, exited };
}

/** Starts a real worker process (`apps/worker/dist/main.js`). */
export const spawnWorkerProcess = (configPath: string, env: Record<string, string> = {}): EngineProcess =>
  spawnEngineProcess(WORKER_MAIN, configPath, env);

export { Redis };
