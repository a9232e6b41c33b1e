// ioredis clients for the engine's processes. The API fails fast when Redis is away (no offline queue,
// a command timeout) so requests get a 503 at once instead of hanging; workers wait and retry
// (BullMQ requires maxRetriesPerRequest: null for its blocking connections).
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.js';

export type RedisRole = 'api' | 'worker';

export function createRedis(config: Config, role: RedisRole, extra: RedisOptions = {}): Redis {
  if (config.redis.mode !== 'standalone') {
    throw new Error(`redis.mode "${config.redis.mode}" is not supported yet; use standalone`);
  }
  const base: RedisOptions = {
    lazyConnect: false,
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    ...(role === 'api'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 3000, connectTimeout: 2000 }
      : { maxRetriesPerRequest: null, enableOfflineQueue: true }),
    ...extra,
  };
  const client = new Redis(config.redis.url, base);
  // Errors are reported through commands and /health; without a listener ioredis prints each one.
  client.on('error', () => {});
  return client;
}

const UNAVAILABLE =
  /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Command timed out|MaxRetriesPerRequest|OOM |LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|connect ETIMEDOUT|Reached the max retries/;

/** True when an error means "Redis cannot serve this now" (down, full, loading), not a bug. */
export function isRedisUnavailable(err: unknown): boolean {
  return err instanceof Error && UNAVAILABLE.test(err.message);
}

/** The URL with any password masked, for logs and messages. */
export function maskRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
