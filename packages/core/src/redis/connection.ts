// ioredis clients for the engine's processes. The API fails fast when Redis is away (no offline queue,
// a command timeout, no replay) so requests get a 503 at once instead of hanging; workers wait and
// retry (BullMQ requires maxRetriesPerRequest: null for its blocking connections).
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.js';

export type RedisRole = 'api' | 'worker';

/** How long an API command may take before it fails (a 503) instead of holding its request. */
export const API_COMMAND_TIMEOUT_MS = 3000;

/**
 * A connection to the engine's Redis, whichever the mode: one server (standalone, or the master the
 * sentinels name) or a Redis Cluster. Both speak the same commands; what differs is that in a cluster
 * every multi-key command, MULTI and script must stay in one hash slot (DESIGN.md, "Redis keys") and a
 * pipeline on one node, so whatever spans task types goes as one group of commands per type.
 */
export type RedisClient = Redis | Cluster;

export function createRedis(config: Config, role: RedisRole, extra: RedisOptions = {}): RedisClient {
  const base: RedisOptions = {
    lazyConnect: false,
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    ...(role === 'api'
      ? {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          commandTimeout: API_COMMAND_TIMEOUT_MS,
          connectTimeout: 2000,
          // Never replay a command whose fate is unknown (see failCommandsInFlight).
          autoResendUnfulfilledCommands: false,
        }
      : { maxRetriesPerRequest: null, enableOfflineQueue: true }),
    ...extra,
  };
  if (config.redis.mode === 'cluster') return createCluster(config.redis, role, base);
  const client =
    config.redis.mode === 'sentinel'
      ? new Redis({ ...sentinelOptions(config.redis), ...base })
      : new Redis(config.redis.url, { ...dataNodeAuth(config.redis), ...base });
  // Errors are reported through commands and /health; without a listener ioredis prints each one.
  client.on('error', () => {});
  if (role === 'api') client.on('close', () => failCommandsInFlight(client));
  return client;
}

/**
 * Cluster mode: ioredis learns the slot map from any seed node and sends each command to the master
 * that owns its key's slot, following MOVED/ASK redirections after a resharding or a failover. The
 * per-node connections take the same options as a standalone connection: for the API no offline queue
 * (a request while the cluster is unreachable fails at once: 503), a command timeout, and no replay of
 * a command whose connection dropped (it fails by the timeout instead of being applied twice).
 */
function createCluster(redis: Config['redis'], role: RedisRole, base: RedisOptions): Cluster {
  const { retryStrategy, enableOfflineQueue, ...nodeOptions } = base;
  const cluster = new Cluster(clusterSeeds(redis), {
    redisOptions: { ...dataNodeAuth(redis), ...nodeOptions },
    clusterRetryStrategy: retryStrategy as (attempt: number) => number,
    enableOfflineQueue: enableOfflineQueue ?? true,
    // Reads go to masters too: a replica may lag behind a status change the client has just been told of.
    scaleReads: 'master',
    // A command to a master that just died is retried every 100 ms (retryDelayOnFailover) until the
    // redirection budget runs out: ioredis's 16 held an API request 1.7 s in the failover test. Five
    // still follow a resharding's MOVED/ASK and answer 503 within about half a second; workers wait.
    ...(role === 'api' ? { maxRedirections: 5 } : {}),
  });
  cluster.on('error', () => {});
  return cluster;
}

/** The seed nodes: `nodes` ("host:port" or redis:// URLs), else those of `url` (one, or a comma list). */
function clusterSeeds(redis: Config['redis']): ClusterNode[] {
  const listed = redis.nodes?.length ? redis.nodes : redis.url.split(',').map((seed) => seed.trim()).filter(Boolean);
  return listed.map((node) => {
    const parsed = new URL(/^rediss?:\/\//.test(node) ? node : `redis://${node}`);
    return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 6379) };
  });
}

/** Every server holding the engine's data: a cluster's masters, else the one server. */
export function dataNodes(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/**
 * A new connection like `client` (same mode, nodes and auth) with some connection options changed, for
 * a blocking reader or a subscriber. Errors are left to the caller's own listener.
 */
export function duplicateRedis(client: RedisClient, options: RedisOptions = {}): RedisClient {
  if (!(client instanceof Cluster)) return client.duplicate(options);
  const { enableOfflineQueue, ...nodeOptions } = options;
  return client.duplicate(undefined, {
    redisOptions: { ...client.options.redisOptions, ...nodeOptions },
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
  });
}

/** password and db from the config, only where set: in standalone mode the url's own stay otherwise. */
function dataNodeAuth(redis: Config['redis']): RedisOptions {
  return {
    ...(redis.password !== undefined ? { password: redis.password } : {}),
    ...(redis.db !== undefined ? { db: redis.db } : {}),
  };
}

/**
 * Sentinel mode: ioredis asks the sentinels where the master named `name` is, connects there, and on
 * every reconnect asks again, so after a failover it lands on the promoted replica by itself. Each
 * client's duplicate() (BullMQ's blocking connections, the event readers) inherits these options.
 */
function sentinelOptions(redis: Config['redis']): RedisOptions {
  return {
    sentinels: redis.sentinels ?? [],
    name: redis.name!,
    role: 'master',
    ...(redis.sentinel_password !== undefined ? { sentinelPassword: redis.sentinel_password } : {}),
    ...dataNodeAuth(redis),
    // Off on purpose: ioredis's failoverDetector keeps its sentinel subscriptions reconnecting after
    // quit() (only disconnect() cleans them up), so every stopped process would linger. A killed master
    // closes our connection anyway, and a demoted one answers READONLY, which reconnectOnError handles.
    failoverDetector: false,
    // A write reaching a node that has just become a replica: reconnect (asking the sentinels again)
    // but never resend, for the same reason failCommandsInFlight exists.
    reconnectOnError: (err) => (/READONLY/.test(err.message) ? 1 : false),
  };
}

/**
 * Fails, at once, the commands sent on a connection that has just dropped. Redis may or may not have
 * run them. ioredis would send them again after reconnecting, so a create could be applied twice (its
 * creation counter was, in the Redis SIGKILL test); with resending off they would instead wait for the
 * command timeout. Failing them makes the request answer 503 now, and nothing is replayed: a client
 * that retries with its own task id gets exactly one task.
 */
function failCommandsInFlight(client: Redis): void {
  const error = new Error('Connection is closed.');
  for (let item = client.commandQueue.shift(); item; item = client.commandQueue.shift()) item.command.reject(error);
}

// "Command aborted due to connection close": ioredis's error for the rest of a pipeline or MULTI whose
// connection dropped after part of the answer had arrived.
const UNAVAILABLE =
  /Stream isn't writeable|Connection is closed|Command aborted due to connection close|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Command timed out|MaxRetriesPerRequest|OOM |LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|connect ETIMEDOUT|Reached the max retries/;
const OUT_OF_MEMORY = /^OOM /;

/** Why Redis cannot serve a command now: full (maxmemory reached under noeviction), or away (down, loading, …). */
export type RedisRefusal = 'out_of_memory' | 'unreachable';

/**
 * The errors behind a failed command. A MULTI that Redis refused to queue a command of fails as a
 * whole with EXECABORT, which says nothing itself: ioredis keeps the queueing errors (e.g. OOM) in
 * `previousErrors`.
 */
function causes(err: Error): Error[] {
  const previous = (err as Error & { previousErrors?: unknown[] }).previousErrors;
  const inner = Array.isArray(previous) ? previous.filter((e): e is Error => e instanceof Error) : [];
  return [err, ...inner];
}

/** Why an error means "Redis cannot serve this now" (not a bug), or null when it does not. */
export function redisRefusal(err: unknown): RedisRefusal | null {
  if (!(err instanceof Error)) return null;
  const all = causes(err);
  if (all.some((e) => OUT_OF_MEMORY.test(e.message))) return 'out_of_memory';
  return all.some((e) => UNAVAILABLE.test(e.message)) ? 'unreachable' : null;
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
