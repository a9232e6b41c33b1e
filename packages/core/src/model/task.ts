// The task object of CONTRACT section 2, read from a BullMQ job hash. A task *is* a BullMQ job (id =
// job id, queue = its type): BullMQ's hash holds everything, so nothing is stored twice.
import type { TaskType } from '../config/schema.js';
import type { TaskObject } from '../contracts/responses.js';
import { backoffKind } from './backoff.js';
import { decodeFailure, failedByBullmqLimit } from './failure.js';
import { fromBullPriority, priorityName } from './priority.js';
import { scheduledTick } from './scheduled-task-id.js';
import type { TaskStatus } from './status.js';
import type { BatchSlot, TaskRef } from '../workflows/workflow-model.js';

/** What the engine keeps in a job's `data` beside BullMQ's own fields. */
export interface TaskJobData {
  payload: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  timeout_seconds: number;
  scheduled_at?: string;
  /** Set for client-chosen ids: compared when the same id is posted again. */
  fingerprint?: string;
  schedule_id?: string;
  /** The tasks it waits for (see workflows/workflow-model.ts). */
  dependencies?: TaskRef[];
  /** Its place in a capped batch. */
  batch?: BatchSlot;
}

/** Job hash field where a failed task's result is kept (e.g. a command's output on nonzero_exit). */
export const FAILED_RESULT_FIELD = 'te_result';

const iso = (ms: string | undefined): string | null => (ms ? new Date(Number(ms)).toISOString() : null);

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (text === undefined || text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function fieldsToRecord(fields: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
  return record;
}

/** Progress 0..100 from BullMQ's `progress` field (JSON); a completed task is at 100 whatever it reported. */
export function taskProgress(status: TaskStatus, progressField: string | undefined | null): number {
  return status === 'completed' ? 100 : Number(parseJson(progressField ?? undefined, 0)) || 0;
}

/**
 * Attempts started beyond the first, from BullMQ's count of takes (`ats`). BullMQ counts every take,
 * including the last take of a task failed at the stall limit, which never ran it: a poison task that
 * ran twice has two attempts started, one retry.
 */
export function retryCount(ats: string | undefined | null, status: TaskStatus, failedReason: string | undefined | null): number {
  const takes = Number(ats ?? 0) - (status === 'failed' && failedByBullmqLimit(failedReason) ? 1 : 0);
  return Math.max(0, takes - 1);
}

/** A scheduler-made task runs at its tick: the one time the scheduler chose it for. */
function scheduledAt(id: string, data: TaskJobData): string | null {
  const tick = data.schedule_id === undefined ? null : scheduledTick(id);
  return tick === null ? null : new Date(tick).toISOString();
}

/** Builds the task object from a job hash (HGETALL as a flat list) and the status computed beside it. */
export function taskFromJobHash(type: TaskType, id: string, status: TaskStatus, flatFields: string[]): TaskObject {
  const job = fieldsToRecord(flatFields);
  const data = parseJson<TaskJobData>(job.data, { payload: {}, timeout_seconds: 0 });
  const opts = parseJson<{ attempts?: number; backoff?: { type?: string; delay?: number } }>(job.opts, {});
  const priority = fromBullPriority(Number(job.priority ?? 3));
  const final = status === 'completed' || status === 'failed' || status === 'cancelled' || status === 'timeout';
  const failure = status === 'completed' ? null : decodeFailure(job.failedReason);
  const showsError = final ? status !== 'completed' : failure !== null;
  let result: unknown = null;
  if (status === 'completed') result = parseJson(job.returnvalue, null);
  else if (final && job[FAILED_RESULT_FIELD]) result = parseJson(job[FAILED_RESULT_FIELD], null);
  return {
    id,
    task_id: id,
    name: job.name ?? type,
    type,
    priority,
    priority_name: priorityName(priority),
    status,
    config: {
      timeout_seconds: data.timeout_seconds,
      max_retries: Math.max(0, (opts.attempts ?? 1) - 1),
      retry_delay_seconds: (opts.backoff?.delay ?? 0) / 1000,
      backoff: backoffKind(opts.backoff?.type),
      ...(data.dependencies?.length ? { dependencies: data.dependencies.map((dependency) => dependency.task_id) } : {}),
    },
    payload: data.payload,
    metadata: data.metadata ?? {},
    result,
    error: showsError ? (failure?.message ?? null) : null,
    error_code: showsError ? (failure?.code ?? null) : null,
    progress: taskProgress(status, job.progress),
    created_at: iso(job.timestamp)!,
    scheduled_at: data.scheduled_at ?? scheduledAt(id, data),
    started_at: iso(job.processedOn),
    completed_at: final ? iso(job.finishedOn) : null,
    retry_count: retryCount(job.ats, status, job.failedReason),
    worker_id: job.pb ?? null,
    schedule_id: data.schedule_id ?? null,
  };
}
