// Retrying tasks that ended failed, timed out or cancelled (CONTRACT section 7, "Retry"): one task by
// id, or many by status and type. Each task's retry is one atomic script in its type's slot
// (retry-task-13.lua); a bulk retry is many of those, not one transaction, and says which matching tasks
// it left and why.
import type { RedisClient } from '../redis/connection.js';
import type { TaskType } from '../config/schema.js';
import { TASK_TYPES } from '../config/schema.js';
import type { TaskObject } from '../contracts/responses.js';
import { RETRYABLE_STATUSES, type RetryableStatus, type RetrySkip } from '../contracts/retry-and-queues.js';
import { FAILED_RESULT_FIELD } from '../model/task.js';
import type { TaskStatus } from '../model/status.js';
import { defineEngineCommands, type EngineRedis } from '../redis/scripts.js';
import { dependencyRetryBlocker } from './retry-dependency-check.js';
import type { TaskStore } from './task-store.js';

export type RetryOutcome =
  | { outcome: 'retried'; previous: RetryableStatus }
  | { outcome: 'refused'; status: TaskStatus; reason: string }
  | { outcome: 'missing' };

export interface BulkRetry {
  statuses: RetryableStatus[];
  /** Default: every type. */
  types?: readonly TaskType[];
  /** Most tasks to retry. */
  limit: number;
}

export interface BulkRetryResult {
  taskIds: string[];
  skipped: RetrySkip[];
}

/** Entries of a type's failed set read per round trip in a bulk retry. */
const PAGE_SIZE = 1000;
/**
 * Most failed-set entries one bulk retry looks at, over all types: it must get past tasks of other
 * statuses and ones it may not retry, but one call's cost must not grow with everything retained.
 */
const MAX_LOOKED = 100_000;
/** Skipped tasks an answer lists, so that one stays small when very many tasks are held back. */
export const MAX_SKIPPED_LISTED = 1000;

const isRetryable = (status: TaskStatus): status is RetryableStatus => (RETRYABLE_STATUSES as readonly string[]).includes(status);

export class TaskRetries {
  private readonly redis: EngineRedis;

  constructor(
    redis: RedisClient,
    private readonly store: TaskStore,
    /** Failed-set entries a bulk retry reads per round trip (smaller in tests, to walk several pages). */
    private readonly pageSize = PAGE_SIZE,
  ) {
    this.redis = defineEngineCommands(redis);
  }

  /** Retries one task read just before; refuses one that is not retryable (status, or its dependencies). */
  async retry(task: TaskObject): Promise<RetryOutcome> {
    const refusal = await this.refusal(task);
    if (refusal) return { outcome: 'refused', status: task.status, reason: refusal };
    const [outcome, previous] = await this.runScript(task.type, task.id);
    if (outcome === 'retried') return { outcome, previous: previous as RetryableStatus };
    if (outcome === 'missing') return { outcome };
    // It changed since it was read (retried by someone else, say): answer with what it is now.
    const now = (await this.store.getMany([task.id], [task.type])).get(task.id);
    return now ? { outcome: 'refused', status: now.status, reason: `it is ${now.status} now` } : { outcome: 'missing' };
  }

  /**
   * Retries up to `limit` tasks of the given statuses: type by type (in the order given), oldest finished
   * first. Matching tasks that may not be retried are listed in `skipped` with the reason (the first
   * MAX_SKIPPED_LISTED); they do not count against the limit, so tasks held back for good never stop a
   * bulk retry from reaching the rest.
   */
  async retryMatching({ statuses, types = TASK_TYPES, limit }: BulkRetry): Promise<BulkRetryResult> {
    const result: BulkRetryResult = { taskIds: [], skipped: [] };
    let looked = 0;
    for (const type of types) {
      // Walks the failed set by rank; each task retried leaves it, so the next page starts that much earlier.
      for (let offset = 0; result.taskIds.length < limit && looked < MAX_LOOKED; ) {
        const page = await this.failedPage(type, statuses, offset);
        if (page.size === 0) break;
        looked += page.size;
        const retriedBefore = result.taskIds.length;
        for (let at = 0; at < page.ids.length && result.taskIds.length < limit; ) {
          const batch = page.ids.slice(at, at + limit - result.taskIds.length);
          at += batch.length;
          await this.retryBatch(type, batch, statuses, result);
        }
        offset += page.size - (result.taskIds.length - retriedBefore);
      }
    }
    return result;
  }

  /** Retries the given tasks of one type together, adding each outcome to `result`. */
  private async retryBatch(type: TaskType, ids: string[], statuses: RetryableStatus[], result: BulkRetryResult): Promise<void> {
    const found = await this.store.getMany(ids, [type]);
    const outcomes = await Promise.all(
      ids.map(async (id) => {
        const task = found.get(id);
        if (!task) return { id, outcome: { outcome: 'missing' } as const };
        // The side sets told the statuses apart; the task's own failure reason has the last word, and a
        // task retried meanwhile by someone else is no longer a match.
        if (!(statuses as readonly TaskStatus[]).includes(task.status)) return { id, outcome: null };
        return { id, outcome: await this.retry(task) };
      }),
    );
    for (const { id, outcome } of outcomes) {
      if (outcome?.outcome === 'retried') result.taskIds.push(id);
      else if (outcome && result.skipped.length < MAX_SKIPPED_LISTED) {
        result.skipped.push({ task_id: id, reason: outcome.outcome === 'missing' ? 'no longer retained' : outcome.reason });
      }
    }
  }

  private async refusal(task: TaskObject): Promise<string | null> {
    if (!isRetryable(task.status)) return `it is ${task.status}`;
    return dependencyRetryBlocker(task, this.store);
  }

  private runScript(type: TaskType, id: string): Promise<[string, string]> {
    const k = (suffix: string): string => this.store.keys.bull(type, suffix);
    const keys = this.store.keys;
    return this.redis.te_retryTask(
      k('failed'), k('wait'), k('prioritized'), k('meta'), k('active'), k('marker'), k('pc'), k('events'),
      keys.cancelled(type), keys.timedOut(type), keys.cancelRequests(type), keys.stats(type), keys.created(type),
      k(''), id, FAILED_RESULT_FIELD,
    );
  }

  /**
   * One page of a type's failed set from `offset` (BullMQ's set, ordered by finish time; it holds the
   * cancelled and timed-out tasks too, told apart by the engine's side sets as the status counts do):
   * how many entries it held, and the ids of those with a wanted status. Both round trips stay within
   * the type's slot, so Redis Cluster serves them.
   */
  private async failedPage(type: TaskType, statuses: RetryableStatus[], offset: number): Promise<{ size: number; ids: string[] }> {
    const keys = this.store.keys;
    const ids = await this.redis.zrange(keys.bull(type, 'failed'), String(offset), String(offset + this.pageSize - 1));
    if (ids.length === 0) return { size: 0, ids };
    const marks = (await this.redis.pipeline().zmscore(keys.cancelled(type), ...ids).zmscore(keys.timedOut(type), ...ids).exec()) ?? [];
    const [cancelled, timedOut] = marks.map(([err, value]) => {
      if (err) throw err;
      return value as Array<string | null>;
    }) as [Array<string | null>, Array<string | null>];
    const statusOf = (i: number): RetryableStatus => (cancelled[i] !== null ? 'cancelled' : timedOut[i] !== null ? 'timeout' : 'failed');
    return { size: ids.length, ids: ids.filter((_, i) => statuses.includes(statusOf(i))) };
  }
}
