// Lifetime counters and throughput buckets of each type, kept in Redis beside the type's queue.
// Workers add to them in batches (StatsRecorder); the API adds creations and cancels of waiting tasks
// in the same round trip as the change itself. GET /stats and /metrics read them.
import type { RedisClient } from '../redis/connection.js';
import type { TaskType } from '../config/schema.js';
import { TASK_TYPES } from '../config/schema.js';
import type { Priority } from '../model/priority.js';
import { FINAL_STATUSES, type FinalStatus } from '../model/status.js';
import type { TaskKeys } from '../redis/keys.js';

export const THROUGHPUT_BUCKET_MS = 10_000;
const BUCKETS_PER_MINUTE = 6;

export const currentBucket = (now = Date.now()): number => Math.floor(now / THROUGHPUT_BUCKET_MS);

export type FinalOutcome = FinalStatus;
const PRIORITIES = [0, 1, 2, 3, 4] as const;

/**
 * Upper bounds (seconds) of the execution and wait time histograms; one more bucket above the last
 * catches the rest. Fixed, so every worker adds to the same buckets and any API replica can serve them.
 */
export const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/** Field names in a type's stats hash. Created and finished counts are kept per priority. */
export const statsField = {
  created: (priority: Priority) => `created:${priority}`,
  final: (outcome: FinalOutcome, priority: Priority) => `${outcome}:${priority}`,
  bucket: (histogram: 'exec' | 'wait', index: number) => `${histogram}_b${index}`,
};

export interface LifetimeCounters {
  created: number;
  completed: number;
  failed: number;
  cancelled: number;
  timeout: number;
  retried: number;
  exec_ms_sum: number;
  exec_count: number;
  wait_ms_sum: number;
  wait_count: number;
}

export interface DurationHistogram {
  /** Count per bucket of DURATION_BUCKETS_SECONDS, plus the overflow bucket; not cumulative. */
  buckets: number[];
  sumMs: number;
  count: number;
}

export interface TypeActivity {
  lifetime: LifetimeCounters;
  createdByPriority: number[];
  finishedByPriority: Record<FinalOutcome, number[]>;
  exec: DurationHistogram;
  wait: DurationHistogram;
  completedLastMinute: number;
  failedLastMinute: number;
}

function activityFromHash(hash: Record<string, string>): Omit<TypeActivity, 'completedLastMinute' | 'failedLastMinute'> {
  const n = (field: string): number => Number(hash[field] ?? 0);
  const createdByPriority = PRIORITIES.map((p) => n(statsField.created(p)));
  const finishedByPriority = Object.fromEntries(
    FINAL_STATUSES.map((outcome) => [outcome, PRIORITIES.map((p) => n(statsField.final(outcome, p)))]),
  ) as Record<FinalOutcome, number[]>;
  const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
  const histogram = (name: 'exec' | 'wait'): DurationHistogram => ({
    buckets: Array.from({ length: DURATION_BUCKETS_SECONDS.length + 1 }, (_, i) => n(statsField.bucket(name, i))),
    sumMs: n(`${name}_ms_sum`),
    count: n(`${name}_count`),
  });
  const exec = histogram('exec');
  const wait = histogram('wait');
  return {
    lifetime: {
      created: sum(createdByPriority),
      completed: sum(finishedByPriority.completed),
      failed: sum(finishedByPriority.failed),
      cancelled: sum(finishedByPriority.cancelled),
      timeout: sum(finishedByPriority.timeout),
      retried: n('retried'),
      exec_ms_sum: exec.sumMs,
      exec_count: exec.count,
      wait_ms_sum: wait.sumMs,
      wait_count: wait.count,
    },
    createdByPriority,
    finishedByPriority,
    exec,
    wait,
  };
}

/**
 * Reads every type's counters and last-minute throughput: one pipeline per type, sent together (a
 * type's keys share its hash slot; on Redis Cluster the types live on different nodes).
 */
export async function readActivity(redis: RedisClient, keys: TaskKeys, now = Date.now()): Promise<Record<TaskType, TypeActivity>> {
  const bucket = currentBucket(now);
  const perType = await Promise.all(
    TASK_TYPES.map(async (type) => {
      const pipeline = redis.pipeline();
      pipeline.hgetall(keys.stats(type));
      for (let b = bucket - BUCKETS_PER_MINUTE + 1; b <= bucket; b++) pipeline.hmget(keys.throughput(type, b), 'completed', 'failed');
      return (await pipeline.exec()) ?? [];
    }),
  );
  const out = {} as Record<TaskType, TypeActivity>;
  TASK_TYPES.forEach((type, t) => {
    const [counters, ...buckets] = perType[t]! as Array<[Error | null, unknown]>;
    const [err, hash] = counters!;
    if (err) throw err;
    let completedLastMinute = 0;
    let failedLastMinute = 0;
    for (const [bucketErr, pair] of buckets) {
      if (bucketErr) throw bucketErr;
      completedLastMinute += Number((pair as Array<string | null>)[0] ?? 0);
      failedLastMinute += Number((pair as Array<string | null>)[1] ?? 0);
    }
    out[type] = { ...activityFromHash(hash as Record<string, string>), completedLastMinute, failedLastMinute };
  });
  return out;
}

/** Index of the histogram bucket a duration falls in. */
function bucketIndex(ms: number): number {
  const seconds = ms / 1000;
  const index = DURATION_BUCKETS_SECONDS.findIndex((bound) => seconds <= bound);
  return index === -1 ? DURATION_BUCKETS_SECONDS.length : index;
}

/**
 * Accumulates a worker's counter updates in memory and writes them in one MULTI per flush, so the hot
 * path costs no round trip. A SIGKILL loses at most one flush interval of lifetime counters (status
 * counts are never affected: they come from the queues themselves).
 */
export class StatsRecorder {
  private pending = new Map<TaskType, Map<string, number>>();
  private buckets = new Map<string, { type: TaskType; bucket: number; completed: number; failed: number }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: TaskKeys,
    private readonly flushEveryMs = 250,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush().catch(() => {}), this.flushEveryMs);
    this.timer.unref();
  }

  private add(type: TaskType, field: string, by: number): void {
    let counters = this.pending.get(type);
    if (!counters) this.pending.set(type, (counters = new Map()));
    counters.set(field, (counters.get(field) ?? 0) + by);
  }

  private observe(type: TaskType, histogram: 'exec' | 'wait', ms: number | null): void {
    if (ms === null || ms < 0) return;
    this.add(type, `${histogram}_ms_sum`, Math.round(ms));
    this.add(type, `${histogram}_count`, 1);
    this.add(type, statsField.bucket(histogram, bucketIndex(ms)), 1);
  }

  recordFinal(type: TaskType, outcome: FinalOutcome, priority: Priority, execMs: number | null, waitMs: number | null, now = Date.now()): void {
    this.add(type, statsField.final(outcome, priority), 1);
    this.observe(type, 'exec', execMs);
    this.observe(type, 'wait', waitMs);
    const bucket = currentBucket(now);
    const key = `${type}:${bucket}`;
    const entry = this.buckets.get(key) ?? { type, bucket, completed: 0, failed: 0 };
    if (outcome === 'completed') entry.completed++;
    else entry.failed++;
    this.buckets.set(key, entry);
  }

  recordRetry(type: TaskType): void {
    this.add(type, 'retried', 1);
  }

  async flush(): Promise<void> {
    // Flushes run one after another. A failed one must not stop the chain: `.then` on a rejected
    // promise would skip every later flush, and the process would never write a count again.
    this.flushing = this.flushing.catch(() => {}).then(async () => {
      if (this.pending.size === 0 && this.buckets.size === 0) return;
      const pending = this.pending;
      const buckets = this.buckets;
      this.pending = new Map();
      this.buckets = new Map();
      // One MULTI per type: a type's keys share its hash slot, and on Redis Cluster only keys of one
      // slot may go in one MULTI.
      const types = new Set<TaskType>([...pending.keys(), ...[...buckets.values()].map((entry) => entry.type)]);
      const failures = await Promise.all(
        [...types].map(async (type) => {
          const tx = this.redis.multi();
          for (const [field, by] of pending.get(type) ?? []) tx.hincrby(this.keys.stats(type), field, by);
          for (const entry of buckets.values()) {
            if (entry.type !== type) continue;
            const key = this.keys.throughput(type, entry.bucket);
            if (entry.completed) tx.hincrby(key, 'completed', entry.completed);
            if (entry.failed) tx.hincrby(key, 'failed', entry.failed);
            tx.pexpire(key, THROUGHPUT_BUCKET_MS * 12);
          }
          try {
            await tx.exec();
            return null;
          } catch (err) {
            // Redis refused the MULTI (full, loading, …) and applied none of it: keep the type's figures
            // for the next flush instead of dropping them, so a Redis full for a while loses no count.
            this.restore(type, pending, buckets);
            return err;
          }
        }),
      );
      const failed = failures.find((err) => err !== null);
      if (failed) throw failed;
    });
    return this.flushing;
  }

  /** Puts back one type's figures taken by a flush that Redis refused. */
  private restore(type: TaskType, pending: Map<TaskType, Map<string, number>>, buckets: StatsRecorder['buckets']): void {
    for (const [field, by] of pending.get(type) ?? []) this.add(type, field, by);
    for (const [key, entry] of buckets) {
      if (entry.type !== type) continue;
      const current = this.buckets.get(key);
      if (current) {
        current.completed += entry.completed;
        current.failed += entry.failed;
      } else this.buckets.set(key, entry);
    }
  }


  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
