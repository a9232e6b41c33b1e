// The benchmark's world: one Redis (a private redis-server, or --redis-url), and the processes it runs
// on it, each side under a key prefix of its own: the project's real API and worker (apps/*/dist/main.js
// with a written config) and the baseline's Express handler and raw BullMQ worker.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findExecutable, ManagedProcess } from '@taskengine/launcher/managed-process';
import { probeRedis } from '@taskengine/launcher/redis-probe';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAME } from './baselines/job.js';

export const REPO_ROOT = new URL('../../', import.meta.url).pathname;
const API_MAIN = join(REPO_ROOT, 'apps/api/dist/main.js');
const WORKER_MAIN = join(REPO_ROOT, 'apps/worker/dist/main.js');
const BASELINE_API = new URL('./baselines/express-api.js', import.meta.url).pathname;
const BASELINE_WORKER = new URL('./baselines/raw-worker.js', import.meta.url).pathname;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** An error that ends a waitFor at once (a process it waits on has died). */
export class Fatal extends Error {
  override readonly name = 'Fatal';
}

export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false>,
  { timeoutMs = 30_000, intervalMs = 20, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(intervalMs);
  }
}

/** A child process of the benchmark; what it printed last explains an early exit. */
export class Child {
  private tail = '';
  constructor(
    readonly name: string,
    readonly proc: ManagedProcess,
  ) {
    const keep = (chunk: Buffer): void => {
      this.tail = (this.tail + chunk.toString()).slice(-4000);
    };
    proc.child.stdout?.on('data', keep);
    proc.child.stderr?.on('data', keep);
  }

  output(): string {
    return this.tail;
  }

  /** Throws when the process has exited (it should not have). */
  assertRunning(): void {
    if (!this.proc.running) throw new Fatal(`${this.name} exited early:\n${this.tail}`);
  }

  async stop(): Promise<void> {
    children.delete(this);
    await this.proc.stop(10_000);
  }
}

const children = new Set<Child>();

function spawnNode(name: string, script: string, env: Record<string, string>, nodeArgs: string[] = []): Child {
  const childEnv = { ...process.env, ...env };
  delete childEnv.NODE_OPTIONS;
  const proc = ManagedProcess.spawn(name, process.execPath, [...nodeArgs, script], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child = new Child(name, proc);
  children.add(child);
  return child;
}

/** Stops every child still running (the end of the run, or an error). */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop()));
}

export interface RedisHandle {
  url: string;
  /** True when the benchmark started it. */
  private: boolean;
  version: string;
  /** The redis-server's pid (from INFO), to read its CPU time when it runs on this machine. */
  pid: number | undefined;
  admin: Redis;
  stop(): Promise<void>;
}

/** Connects to `url`, or starts a private redis-server (no persistence, loopback) when none is given. */
export async function openRedis(url: string | undefined): Promise<RedisHandle> {
  let server: ManagedProcess | null = null;
  let dir: string | null = null;
  if (!url) {
    const binary = findExecutable('redis-server');
    if (!binary) throw new Error('no redis-server on PATH: install it (apt-get install redis-server) or pass --redis-url');
    const port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'taskengine-bench-redis-'));
    url = `redis://127.0.0.1:${port}`;
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
    server = ManagedProcess.spawn('redis-server', binary, args, { stdio: 'ignore' });
    const target = url;
    await waitFor(async () => server!.running && (await probeRedis(target, 500)).state === 'ready', {
      timeoutMs: 10_000,
      what: 'the private redis-server',
    });
  }
  const admin = new Redis(url, { maxRetriesPerRequest: null });
  const info = await admin.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]) || undefined;
  return {
    url,
    private: server !== null,
    version,
    pid,
    admin,
    async stop() {
      await admin.quit().catch(() => {});
      if (server) await server.stop(5000);
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deletes everything a side wrote: every key under its prefix. */
export async function wipe(redis: RedisHandle, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await redis.admin.unlink(...keys);
  } while (cursor !== '0');
}

/** Bytes Redis reports (MEMORY USAGE, all samples) summed over every key under `prefix`. */
export async function memoryUnder(redis: RedisHandle, prefix: string): Promise<{ bytes: number; keys: number }> {
  let cursor = '0';
  let bytes = 0;
  let keys = 0;
  do {
    const [next, batch] = await redis.admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000);
    cursor = next;
    if (batch.length === 0) continue;
    const pipeline = redis.admin.pipeline();
    for (const key of batch) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    for (const [err, value] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      bytes += Number(value ?? 0);
    }
    keys += batch.length;
  } while (cursor !== '0');
  return { bytes, keys };
}

/** CPU time (user + system, ms) a local process has used so far; null when it cannot be read. */
export function cpuMs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 100 Hz ticks
  } catch {
    return null;
  }
}

/** Peak resident memory (VmHWM, MiB) of a local process; null when it cannot be read. */
export function peakRssMiB(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const kib = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return Number.isFinite(kib) ? Math.round(kib / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

/**
 * CPU milliseconds Redis has used so far, from INFO cpu (so it works for a Redis on another machine too):
 * the main thread's, where Redis reports it (7.0+: the thread that runs every command, the one that
 * saturates), else the whole process's.
 */
export async function redisCpuMs(redis: RedisHandle): Promise<number> {
  const info = await redis.admin.info('cpu');
  const field = (name: string): number | undefined => {
    const value = new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1];
    return value === undefined ? undefined : Number(value);
  };
  const user = field('used_cpu_user_main_thread') ?? field('used_cpu_user') ?? 0;
  const sys = field('used_cpu_sys_main_thread') ?? field('used_cpu_sys') ?? 0;
  return (user + sys) * 1000;
}

/** Busy CPU ticks (100 Hz) of the whole machine so far, all cores together, from /proc/stat; null off Linux. */
export function machineBusyTicks(): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq ...: busy is all but idle and iowait.
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields;
    return user + nice + system + irq + softirq;
  } catch {
    return null;
  }
}

/** CPU milliseconds each named process (a pid, or 'self' for this one) uses between start and read(). */
export function cpuMeter(pids: Record<string, number | 'self' | undefined>): { read(): Record<string, number | null> } {
  const now = (pid: number | 'self' | undefined): number | null => {
    if (pid !== 'self') return cpuMs(pid);
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  };
  const start = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, now(pid)]));
  return {
    read: () =>
      Object.fromEntries(
        Object.entries(pids).map(([name, pid]) => {
          const [before, after] = [start[name], now(pid)];
          return [name, before == null || after == null ? null : after - before];
        }),
      ),
  };
}

export type SideName = 'project' | 'baseline';

/** One side of the comparison: its prefix, its queue (for pause, counts and direct adds) and its processes. */
export abstract class Side {
  readonly prefix: string;
  /** BullMQ view of the side's `custom` queue, on the benchmark's own connection. */
  readonly queue: Queue;
  apiUrl = '';
  protected api: Child | null = null;

  constructor(
    readonly name: SideName,
    protected readonly redis: RedisHandle,
    protected readonly runId: string,
    label: string,
  ) {
    this.prefix = `bench-${runId}-${label}`;
    this.queue = new Queue(QUEUE_NAME, { connection: redis.admin, prefix: this.prefix });
  }

  get apiPid(): number | undefined {
    return this.api?.proc.pid;
  }

  protected abstract spawnApi(port: number): Child;
  protected abstract spawnWorker(concurrency: number): Child;

  /** Starts the side's HTTP API and waits until it answers. */
  async startApi(): Promise<void> {
    const { child, url } = await this.startExtraApi();
    this.api = child;
    this.apiUrl = url;
  }

  /**
   * Starts one more API process of the side (same prefix and config, a port of its own) and waits until it
   * answers; the caller stops it. Runs with several API processes use it.
   */
  async startExtraApi(): Promise<{ child: Child; url: string }> {
    const port = await freePort();
    const child = this.spawnApi(port);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => {
        child.assertRunning();
        await fetch(url + '/health');
        return true;
      },
      { what: `${child.name} to listen` },
    );
    return { child, url };
  }

  /**
   * Starts a worker process and waits until BullMQ sees one more worker than before it started (so a second
   * or third process is waited for too).
   */
  async startWorker(concurrency: number): Promise<Child> {
    const before = await this.queue.getWorkersCount();
    const worker = this.spawnWorker(concurrency);
    await waitFor(
      async () => {
        worker.assertRunning();
        return (await this.queue.getWorkersCount()) > before;
      },
      { what: `${worker.name} to start` },
    );
    return worker;
  }

  /** Jobs in the completed set of the side's queue. */
  async completedCount(): Promise<number> {
    return (await this.queue.getJobCounts('completed')).completed ?? 0;
  }

  async wipe(): Promise<void> {
    await wipe(this.redis, this.prefix);
  }

  /**
   * Waits until the side's job count stops changing: a load generator that stops still leaves requests
   * in the server, whose tasks must not land after a wipe (in the next scenario's figures).
   */
  async quiesce(): Promise<void> {
    const total = async (): Promise<number> => Object.values(await this.queue.getJobCounts()).reduce((sum, n) => sum + n, 0);
    let last = await total();
    await waitFor(
      async () => {
        await sleep(200);
        const now = await total();
        const still = now === last;
        last = now;
        return still;
      },
      { timeoutMs: 60_000, intervalMs: 0, what: `${this.name} to stop adding tasks` },
    );
  }

  async close(): Promise<void> {
    await this.api?.stop();
    await this.queue.close();
  }
}

export interface SideOptions {
  /** Extra node arguments for a side's process, by its name (e.g. --cpu-prof naming the profile). */
  nodeArgs: (processName: string) => string[];
  /** Config sections merged over the benchmark's own, key by key (e.g. the soak run's short retention). */
  config?: Record<string, Record<string, unknown>>;
}

/** The engine as shipped: apps/api and apps/worker processes with a config for the benchmark. */
export class ProjectSide extends Side {
  private readonly dir = mkdtempSync(join(tmpdir(), 'taskengine-bench-'));
  private readonly configPath = join(this.dir, 'config.yaml');

  constructor(
    redis: RedisHandle,
    runId: string,
    private readonly options: SideOptions,
    label = 'te',
  ) {
    super('project', redis, runId, label);
    // JSON is YAML; relative paths in the config (executor folders) land in the temporary folder.
    const config: Record<string, Record<string, unknown>> = {
      redis: { url: redis.url, prefix: this.prefix },
      logging: { level: 'warn' },
      server: { host: '127.0.0.1', port: 8002, rate_limit: { enabled: false } },
      workers: { concurrency: { custom: 100 }, shutdown_grace: 5 },
      dependencies: { state_machine: { enabled: false }, oneapi: { enabled: false } },
      auth: { api_keys: [] },
    };
    for (const [section, values] of Object.entries(options.config ?? {})) config[section] = { ...config[section], ...values };
    writeFileSync(this.configPath, JSON.stringify(config, null, 2));
  }

  /** Another project deployment on the same Redis under a prefix of its own (its API not started yet). */
  sibling(label: string): ProjectSide {
    return new ProjectSide(this.redis, this.runId, this.options, label);
  }

  private env(extra: Record<string, string>): Record<string, string> {
    return { TASKENGINE_CONFIG: this.configPath, REDIS_URL: this.redis.url, LOG_LEVEL: 'warn', ...extra };
  }

  protected spawnApi(port: number): Child {
    return spawnNode('project api', API_MAIN, this.env({ PORT: String(port) }), this.options.nodeArgs('project-api'));
  }

  protected spawnWorker(concurrency: number): Child {
    const env = this.env({ WORKER_TASK_TYPES: 'custom', WORKER_CONCURRENCY: String(concurrency) });
    return spawnNode('project worker', WORKER_MAIN, env, this.options.nodeArgs('project-worker'));
  }

  override async close(): Promise<void> {
    await super.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Plain BullMQ: the 15-line Express handler and the raw Worker (bench/src/baselines). */
export class BaselineSide extends Side {
  constructor(
    redis: RedisHandle,
    runId: string,
    private readonly options: SideOptions,
  ) {
    super('baseline', redis, runId, 'raw');
  }

  protected spawnApi(port: number): Child {
    return spawnNode('baseline api', BASELINE_API, { REDIS_URL: this.redis.url, PREFIX: this.prefix, PORT: String(port) }, this.options.nodeArgs('baseline-api'));
  }

  protected spawnWorker(concurrency: number): Child {
    const env = { REDIS_URL: this.redis.url, PREFIX: this.prefix, CONCURRENCY: String(concurrency) };
    return spawnNode('baseline worker', BASELINE_WORKER, env, this.options.nodeArgs('baseline-worker'));
  }
}

export const newRunId = (): string => randomBytes(3).toString('hex');

export function machine(redisVersion: string): Record<string, unknown> {
  const cpu = cpus();
  return { cpus: cpu.length, cpu_model: cpu[0]?.model ?? 'unknown', node: process.version, redis: redisVersion, platform: `${process.platform} ${process.arch}` };
}
