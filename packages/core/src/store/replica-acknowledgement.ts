// Acknowledged writes (`redis.wait_replicas`, issue 8): the API answers a create only once that many
// replicas have it, so a failover right after the answer cannot lose it. Redis replicates
// asynchronously; its WAIT <n> <timeout> blocks the connection it is sent on until n replicas have
// acknowledged that connection's last write (its replication offset, which also covers every write any
// connection made before it: the replication stream is one ordered log), and answers how many did.
//
// Why a connection of its own: WAIT must come from the connection that wrote (a connection that wrote
// nothing waits for nothing), and a blocked connection serves nothing else until WAIT returns. The
// API's main connection is shared by everything (BullMQ's queues, reads, /health, claims, cancels), so
// a WAIT there would hold every other request behind it: for up to `wait_timeout_ms` each time while a
// replica lags or is down. Creates therefore go through this connection (their MULTI and then their
// WAIT), and nothing else but the barrier below ever does.
//
// In cluster mode the option is refused at config load (schema.ts says why).
import { RedisConnection, type RedisClient } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import { ApiError } from '../errors.js';
import { API_COMMAND_TIMEOUT_MS, createRedis } from '../redis/connection.js';
import type { TaskKeys } from '../redis/keys.js';

/** What a 503 `replication_timeout` tells the client (details). */
export interface ReplicationShortfall {
  reason: 'replication_timeout';
  replicas_confirmed: number;
  replicas_wanted: number;
  /** The tasks (or schedule) written on the master and not confirmed, so a client can look for them. */
  task_ids?: string[];
  schedule_id?: string;
}

/** What was written, for the 503's message. */
export type AcknowledgedWrite =
  | { kind: 'tasks'; taskIds: string[] }
  | { kind: 'retry'; taskIds: string[] }
  | { kind: 'schedule'; scheduleId: string };

/** How long the barrier key lives: it only has to exist until WAIT has been sent after it. */
const BARRIER_TTL_MS = 60_000;

export class ReplicaAcknowledgement {
  private readonly redis: Redis;
  private readonly wanted: number;
  private readonly timeoutMs: number;
  /** Loads BullMQ's scripts onto the connection, so its add scripts can be queued in a MULTI there. */
  private bullmq: RedisConnection;

  /** null when `redis.wait_replicas` is 0 (off): creates then use the queues' shared connection as before. */
  static fromConfig(config: Config, keys: TaskKeys): ReplicaAcknowledgement | null {
    return config.redis.wait_replicas > 0 ? new ReplicaAcknowledgement(config, keys) : null;
  }

  private constructor(
    config: Config,
    private readonly keys: TaskKeys,
  ) {
    this.wanted = config.redis.wait_replicas;
    this.timeoutMs = config.redis.wait_timeout_ms;
    // The API's own options (fail fast, never resend; follows a Sentinel failover by itself). A command
    // here may queue behind WAITs sent before it (the GroupCommitter's other group in flight, a
    // barrier's), so it gets that much longer than the API's usual command timeout before it fails.
    // Never a Cluster: the option is refused in cluster mode.
    this.redis = createRedis(config, 'api', {
      commandTimeout: API_COMMAND_TIMEOUT_MS + 2 * this.timeoutMs,
      connectionName: `${config.redis.prefix}:acknowledged-writes`,
    }) as Redis;
    this.bullmq = this.loadBullmqScripts();
  }

  private loadBullmqScripts(): RedisConnection {
    // Shared: it never closes our connection. No version check: the queues' connection did it.
    const connection = new RedisConnection(this.redis, { shared: true, blocking: false, skipVersionCheck: true });
    // It re-emits the connection's errors; unheard, an 'error' event would throw. Requests report them.
    connection.on('error', () => {});
    return connection;
  }

  /**
   * The connection to write creates on (BullMQ's client over it, as the queues' `backend.client` is
   * over theirs). A 503 at once while it is not connected, rather than waiting for Redis.
   */
  async client(): Promise<RedisClient> {
    if (this.redis.status !== 'ready') throw new ApiError(503, 'unavailable', 'Redis is unreachable; try again shortly');
    try {
      return await this.bullmq.client;
    } catch (err) {
      // Its set-up was cut off (the link dropped during it): set it up again for the next request.
      void this.bullmq.close().catch(() => {});
      this.bullmq = this.loadBullmqScripts();
      throw err;
    }
  }

  /**
   * After a group of creates went through client() in one MULTI: WAIT on that same connection. Each
   * request that was written (outcome undefined) gets a 503 `replication_timeout` when too few
   * replicas confirmed in time; requests that failed on their own keep their error.
   */
  async confirm(outcomes: Array<Error | undefined>, taskIds: string[][]): Promise<Array<Error | undefined>> {
    if (!outcomes.some((outcome) => outcome === undefined)) return outcomes;
    const confirmed = await this.redis.wait(this.wanted, this.timeoutMs);
    if (confirmed >= this.wanted) return outcomes;
    return outcomes.map((outcome, i) => outcome ?? this.shortfall(confirmed, { kind: 'tasks', taskIds: taskIds[i]! }));
  }

  /**
   * For writes made, and answered, on another connection (a retry, a schedule, the earlier create
   * of a task a client posts again): a write here, then WAIT here. That write comes after theirs in
   * the replication stream, so replicas that have it have theirs too. Throws the 503 when short.
   */
  async confirmEarlierWrites(write: AcknowledgedWrite): Promise<void> {
    if (this.redis.status !== 'ready') throw new ApiError(503, 'unavailable', 'Redis is unreachable; try again shortly');
    // Sent together: the connection runs them in order, so WAIT covers the SET.
    const [, confirmed] = await Promise.all([
      this.redis.set(this.keys.replicationBarrier(), String(Date.now()), 'PX', BARRIER_TTL_MS),
      this.redis.wait(this.wanted, this.timeoutMs),
    ]);
    if (confirmed < this.wanted) throw this.shortfall(confirmed, write);
  }

  private shortfall(confirmed: number, write: AcknowledgedWrite): ApiError {
    const details: ReplicationShortfall = { reason: 'replication_timeout', replicas_confirmed: confirmed, replicas_wanted: this.wanted };
    const short = `only ${confirmed} of the ${this.wanted} replica${this.wanted === 1 ? '' : 's'} wanted (redis.wait_replicas) confirmed the write within ${this.timeoutMs} ms`;
    if (write.kind === 'schedule') {
      details.schedule_id = write.scheduleId;
      return new ApiError(
        503,
        'unavailable',
        `The schedule may exist on the Redis master but is not yet replicated: ${short}, so a failover now could lose it. ` +
          `Schedules have no client id: look for it (GET /schedules/${write.scheduleId}) before creating it again.`,
        details,
      );
    }
    details.task_ids = write.taskIds;
    const many = write.taskIds.length > 1;
    if (write.kind === 'retry') {
      return new ApiError(
        503,
        'unavailable',
        `The retry was applied on the Redis master but is not yet replicated: ${short}, so a failover now could undo it. ` +
          `Read the task${many ? 's' : ''} (details.task_ids): one that is not back in its queue can be retried again.`,
        details,
      );
    }
    return new ApiError(
      503,
      'unavailable',
      `The task${many ? 's' : ''} may exist on the Redis master but ${many ? 'are' : 'is'} not yet replicated: ${short}, so a failover now could lose ${many ? 'them' : 'it'}. ` +
        'Retrying with the same client task id is safe (idempotent: it returns the task if it exists, or creates it once); ' +
        'a task posted without an id is listed in details.task_ids, to look for before posting it again.',
      details,
    );
  }

  async close(): Promise<void> {
    await this.bullmq.close().catch(() => {});
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** A 503 saying the write is on the master but not confirmed by enough replicas. */
export function isReplicationShortfall(err: unknown): err is ApiError {
  return err instanceof ApiError && (err.details as Partial<ReplicationShortfall> | undefined)?.reason === 'replication_timeout';
}
