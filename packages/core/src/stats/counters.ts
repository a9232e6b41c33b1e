// Lifetime counters and throughput buckets of each type, kept in Redis beside the type's queue.
// Workers add to them in batches (StatsRecorder); GET /stats reads them with the status counts.
import type { Redis } from 'ioredis';
import type { TaskType } from '../config/schema.js';
import { TASK_TYPES } from '../config/schema.js';
import type { TaskKeys } from '../redis/keys.js';

export const THROUGHPUT_BUCKET_MS = 10_000;
const BUCKETS_PER_MINUTE = 6;

export const currentBucket = (now = Date.now()): number => Math.floor(now / THROUGHPUT_BUCKET_MS);

export type FinalOutcome = 'completed' | 'failed' | 'cancelled' | 'timeout';

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

export interface TypeActivity {
  lifetime: LifetimeCounters;
  completedLastMinute: number;
  failedLastMinute: number;
}

const LIFETIME_FIELDS: Array<keyof LifetimeCounters> = [
  'created', 'completed', 'failed', 'cancelled', 'timeout', 'retried', 'exec_ms_sum', 'exec_count', 'wait_ms_sum', 'wait_count',
];

/** Reads every type's lifetime counters and last-minute throughput (one pipeline). */
export async function readActivity(redis: Redis, keys: TaskKeys, now = Date.now()): Promise<Record<TaskType, TypeActivity>> {
  const bucket = currentBucket(now);
  const pipeline = redis.pipeline();
  for (const type of TASK_TYPES) {
    pipeline.hmget(keys.stats(type), ...LIFETIME_FIELDS);
    for (let b = bucket - BUCKETS_PER_MINUTE + 1; b <= bucket; b++) pipeline.hmget(keys.throughput(type, b), 'completed', 'failed');
  }
  const results = (await pipeline.exec()) ?? [];
  const out = {} as Record<TaskType, TypeActivity>;
  let index = 0;
  for (const type of TASK_TYPES) {
    const [err, values] = results[index++]!;
    if (err) throw err;
    const lifetime = Object.fromEntries(
      LIFETIME_FIELDS.map((field, i) => [field, Number((values as Array<string | null>)[i] ?? 0)]),
    ) as unknown as LifetimeCounters;
    let completedLastMinute = 0;
    let failedLastMinute = 0;
    for (let b = 0; b < BUCKETS_PER_MINUTE; b++) {
      const [bucketErr, pair] = results[index++]!;
      if (bucketErr) throw bucketErr;
      completedLastMinute += Number((pair as Array<string | null>)[0] ?? 0);
      failedLastMinute += Number((pair as Array<string | null>)[1] ?? 0);
    }
    out[type] = { lifetime, completedLastMinute, failedLastMinute };
  }
  return out;
}

/**
 * Accumulates a worker's counter updates in memory and writes them in one MULTI per flush, so the hot
 * path costs no round trip. A SIGKILL loses at most one flush interval of lifetime counters (status
 * counts are never affected: they come from the queues themselves).
 */
export class StatsRecorder {
  private pending = new Map<TaskType, Partial<Record<keyof LifetimeCounters, number>>>();
  private buckets = new Map<string, { type: TaskType; bucket: number; completed: number; failed: number }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly keys: TaskKeys,
    private readonly flushEveryMs = 250,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush().catch(() => {}), this.flushEveryMs);
    this.timer.unref();
  }

  private add(type: TaskType, field: keyof LifetimeCounters, by: number): void {
    const counters = this.pending.get(type) ?? {};
    counters[field] = (counters[field] ?? 0) + by;
    this.pending.set(type, counters);
  }

  recordFinal(type: TaskType, outcome: FinalOutcome, execMs: number | null, waitMs: number | null, now = Date.now()): void {
    this.add(type, outcome, 1);
    if (execMs !== null && execMs >= 0) {
      this.add(type, 'exec_ms_sum', Math.round(execMs));
      this.add(type, 'exec_count', 1);
    }
    if (waitMs !== null && waitMs >= 0) {
      this.add(type, 'wait_ms_sum', Math.round(waitMs));
      this.add(type, 'wait_count', 1);
    }
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
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0 && this.buckets.size === 0) return;
      const pending = this.pending;
      const buckets = this.buckets;
      this.pending = new Map();
      this.buckets = new Map();
      const tx = this.redis.multi();
      for (const [type, counters] of pending) {
        for (const [field, by] of Object.entries(counters)) tx.hincrby(this.keys.stats(type), field, by!);
      }
      for (const { type, bucket, completed, failed } of buckets.values()) {
        const key = this.keys.throughput(type, bucket);
        if (completed) tx.hincrby(key, 'completed', completed);
        if (failed) tx.hincrby(key, 'failed', failed);
        tx.pexpire(key, THROUGHPUT_BUCKET_MS * 12);
      }
      await tx.exec();
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
