// What a `custom` task with default settings becomes in BullMQ (packages/core/src/store/task-store.ts):
// the same job name, data and options, written out by hand so the baselines stay plain BullMQ.
import { randomUUID } from 'node:crypto';
import type { JobsOptions } from 'bullmq';

/** The queue a `custom` task goes to (the engine names each type's queue `{type}`). */
export const QUEUE_NAME = '{custom}';

/** Job data of a task with this payload and the default timeout. */
export const jobData = (payload: unknown): { payload: unknown; timeout_seconds: number } => ({ payload, timeout_seconds: 300 });

/** NORMAL priority (BullMQ 3), 3 retries, exponential back-off from 5 s, a UUID id, as a default task gets. */
export function jobOptions(now = Date.now()): JobsOptions {
  return { jobId: randomUUID(), timestamp: now, priority: 3, attempts: 4, backoff: { type: 'te-exponential', delay: 5000 } };
}
