// A whole engine of real processes for fault tests: a private redis-server (free port, own directory),
// the API and a worker as child processes (apps/*/dist/main.js) on it. The Redis can be killed, frozen
// and restarted on the same port and directory, as an operator's or a crash's would be, while the
// engine's processes carry on by themselves. stop() leaves no process and no temporary directory behind.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { Redis } from 'ioredis';
import { API_MAIN, request, uniquePrefix, waitFor, WORKER_MAIN, writeConfigFile, spawnEngineProcess, type EngineProcess } from './harness.js';
import { freePort, removeDir, startRedisServer, type RedisServerHandle } from './redis-server.js';

export interface ProcessEngineOptions {
  label: string;
  /** Extra redis-server arguments (persistence, maxmemory, …); kept for restarts. */
  redisArgs?: string[];
  /** Config sections merged over the test defaults (harness testConfigTree). */
  overrides?: Record<string, unknown>;
  /** Start a worker process for the `custom` type (default true). */
  worker?: boolean;
  workerConcurrency?: number;
  /** LOG_LEVEL of both processes (default error: quiet). */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

export interface ProcessEngine {
  baseUrl: string;
  prefix: string;
  /** The current redis-server (a new handle after each restart). */
  redis: RedisServerHandle;
  api: EngineProcess;
  worker: EngineProcess | undefined;
  /** A direct client on the engine's Redis, to look at what is stored; reconnects across restarts. */
  inspect: Redis;
  /** Stops redis-server with `signal` (SIGKILL: a crash; SIGTERM: a clean shutdown). */
  stopRedis(signal: NodeJS.Signals): Promise<void>;
  /** Starts redis-server again on the same port and directory, with the same arguments. */
  restartRedis(): Promise<void>;
  stop(): Promise<void>;
}

const alive = (p: EngineProcess): boolean => p.child.exitCode === null && p.child.signalCode === null;

export async function startProcessEngine(options: ProcessEngineOptions): Promise<ProcessEngine> {
  const redisArgs = options.redisArgs ?? [];
  let redis = await startRedisServer(redisArgs);
  const prefix = uniquePrefix(options.label);
  const port = await freePort();
  const configPath = writeConfigFile(prefix, {
    redis: { url: redis.url, prefix },
    server: { host: '127.0.0.1', port },
    dependencies: { state_machine: { enabled: false }, oneapi: { enabled: false } },
    ...options.overrides,
  });
  // REDIS_URL would otherwise point the children at the suite's shared Redis.
  const env = { REDIS_URL: redis.url, LOG_LEVEL: options.logLevel ?? 'error' };
  const processes: EngineProcess[] = [];
  const inspect = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  inspect.on('error', () => {});

  const stop = async (): Promise<void> => {
    for (const p of processes) if (alive(p)) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    inspect.disconnect();
    await redis.stop('SIGKILL');
    removeDir(redis.dir);
    rmSync(dirname(configPath), { recursive: true, force: true });
  };

  try {
    const api = spawnEngineProcess(API_MAIN, configPath, env);
    processes.push(api);
    const worker =
      options.worker === false
        ? undefined
        : spawnEngineProcess(WORKER_MAIN, configPath, {
            ...env,
            WORKER_TASK_TYPES: 'custom',
            WORKER_CONCURRENCY: String(options.workerConcurrency ?? 8),
          });
    if (worker) processes.push(worker);
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => {
        if (!alive(api)) throw new Error(`API process exited: ${api.output()}`);
        return (await request(baseUrl, 'GET', '/health')).status === 200;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'the API process to answer /health' },
    );
    if (worker) {
      await waitFor(
        async () => {
          if (!alive(worker)) throw new Error(`worker process exited: ${worker.output()}`);
          const res = await request(baseUrl, 'GET', '/workers');
          return (res.body.workers as Array<{ pid: number }>).some((w) => w.pid === worker.pid);
        },
        { timeoutMs: 20_000, intervalMs: 100, what: 'the worker process in /workers' },
      );
    }
    const engine: ProcessEngine = {
      baseUrl,
      prefix,
      get redis() {
        return redis;
      },
      api,
      worker,
      inspect,
      stopRedis: (signal) => redis.stop(signal),
      async restartRedis() {
        redis = await startRedisServer(redisArgs, { port: redis.port, dir: redis.dir });
      },
      stop,
    };
    return engine;
  } catch (err) {
    await stop();
    throw err;
  }
}
