// The private redis-server that `npm start` falls back to when no Redis answers at a loopback URL
// (CONTRACT section 1): bound to 127.0.0.1 only, AOF on, no RDB snapshots, no eviction (BullMQ must never
// lose a key to maxmemory), its data and log in one folder so a restart finds the queues where they were.
import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeExit, findExecutable, ManagedProcess } from './managed-process.js';
import { probeRedis } from './redis-probe.js';

/** There is no redis-server binary on PATH. */
export class RedisServerMissing extends Error {
  override readonly name = 'RedisServerMissing';
}

/** redis-server started but did not come up (port taken, bad data file, deadline passed...). */
export class PrivateRedisFailed extends Error {
  override readonly name = 'PrivateRedisFailed';
}

export interface PrivateRedisOptions {
  port: number;
  dataDir: string;
  /** The URL the probe uses to see it answer (loopback, with the credentials the children will send). */
  url: string;
  /** From the URL: when set, the server requires them too, so the URL means the same thing either way. */
  username?: string;
  password?: string;
  /** How long it may take to answer at all. A server that answers LOADING gets `loadingTimeoutMs`. */
  readyTimeoutMs?: number;
  loadingTimeoutMs?: number;
  /** Called right after the spawn, so a caller stopping during start-up can stop this process too. */
  onSpawn?: (redis: ManagedProcess) => void;
  onLoading?: () => void;
}

/** Redis config-file quoting, for values fed through stdin. */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Credentials go in through stdin (`redis-server -` reads a config file from it) rather than the command
 * line, where any local user could read them with `ps`.
 */
function secretConfig(username: string | undefined, password: string | undefined): string | null {
  if (!password) return null;
  if (!username || username === 'default') return `requirepass ${quote(password)}\n`;
  return `user default off\nuser ${quote(username)} on ${quote(`>${password}`)} ~* &* +@all\n`;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The last lines written to `path` since byte `from`, to explain a failed start. */
function tailSince(path: string, from: number, lines = 6): string[] {
  try {
    const length = Math.min(fileSize(path) - from, 64 * 1024);
    if (length <= 0) return [];
    const fd = openSync(path, 'r');
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, fileSize(path) - length);
    closeSync(fd);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-lines);
  } catch {
    return [];
  }
}

export async function startPrivateRedis(options: PrivateRedisOptions): Promise<ManagedProcess> {
  const binary = findExecutable('redis-server');
  if (!binary) throw new RedisServerMissing('no redis-server on PATH');
  mkdirSync(options.dataDir, { recursive: true });
  const logFile = join(options.dataDir, 'redis.log');
  const logStart = fileSize(logFile);
  const secrets = secretConfig(options.username, options.password);
  // The options after `-` override what stdin says, so stdin carries the credentials only.
  const args = [
    ...(secrets ? ['-'] : []),
    '--bind', '127.0.0.1',
    '--port', String(options.port),
    '--dir', options.dataDir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--logfile', logFile,
  ];
  const redis = ManagedProcess.spawn('redis-server', binary, args, {
    stdio: [secrets ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  options.onSpawn?.(redis);
  if (secrets) redis.child.stdin?.end(secrets);

  // Before the log file opens, redis-server writes to stdout/stderr (a bad option, for one); keep the end.
  let early = '';
  const keep = (chunk: Buffer): void => {
    early = (early + chunk.toString('utf8')).slice(-4096);
  };
  redis.child.stdout?.on('data', keep);
  redis.child.stderr?.on('data', keep);

  const explain = (): string => {
    const lines = [...early.trimEnd().split('\n').filter(Boolean), ...tailSince(logFile, logStart)].slice(-6);
    return lines.length ? `:\n  ${lines.join('\n  ')}` : '';
  };

  const started = Date.now();
  let loading = false;
  for (;;) {
    if (!redis.running) {
      const status = await redis.exited;
      if (status.error?.code === 'ENOENT') throw new RedisServerMissing(`cannot run ${binary}`);
      throw new PrivateRedisFailed(`redis-server ${describeExit(status)} while starting${explain()}`);
    }
    const probe = await probeRedis(options.url, 500);
    if (probe.state === 'ready') return redis;
    if (probe.state === 'refused') {
      await redis.stop(5000);
      throw new PrivateRedisFailed(`the private redis-server refused the connection: ${probe.reason}`);
    }
    if (probe.state === 'loading' && !loading) {
      loading = true;
      options.onLoading?.();
    }
    const limit = loading ? (options.loadingTimeoutMs ?? 300_000) : (options.readyTimeoutMs ?? 10_000);
    if (Date.now() - started > limit) {
      await redis.stop(5000);
      throw new PrivateRedisFailed(`redis-server did not answer within ${Math.round(limit / 1000)} s${explain()}`);
    }
    await sleep(100);
  }
}
