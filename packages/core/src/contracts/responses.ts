// What the API answers (CONTRACT sections 2 and 3), as zod schemas: the TypeScript types the code uses are
// inferred from them and the OpenAPI document is generated from them, so each shape is written once.
// The API does not parse its own responses (that would cost on every request); the OpenAPI test checks
// real responses against the document instead.
import { z } from 'zod';
import { TaskType } from '../config/schema.js';
import { BackoffKind } from '../model/backoff.js';
import { Priority, PriorityName } from '../model/priority.js';
import { TaskStatus } from '../model/status.js';

/** ISO 8601 UTC with milliseconds, as `Date.prototype.toISOString` writes it. */
const Timestamp = z.iso.datetime({ precision: 3 });
const Count = z.number().int().min(0);

// ---------------------------------------------------------------------------------------------- errors

/** Every `error.code` a route may answer (CONTRACT section 3); ApiError takes only these. */
export const API_ERROR_CODES = [
  'invalid_json',
  'validation_error',
  'unauthorized',
  'forbidden',
  'not_found',
  'task_not_found',
  'task_not_cancellable',
  'conflict',
  'payload_too_large',
  'rate_limited',
  'unavailable',
  'internal_error',
] as const;
export const ApiErrorCode = z.enum(API_ERROR_CODES);
export type ApiErrorCode = z.infer<typeof ApiErrorCode>;

/** One problem of a `validation_error`: the field's path (`tasks[3].config.timeout_seconds`) and what is wrong. */
export const ErrorDetail = z.object({ path: z.string(), message: z.string() });
export type ErrorDetail = z.infer<typeof ErrorDetail>;

export const ErrorBody = z
  .object({
    success: z.literal(false),
    error: z.object({
      code: ApiErrorCode,
      message: z.string().meta({ description: 'A human sentence; never a stack trace.' }),
      details: z
        .union([z.array(ErrorDetail), z.record(z.string(), z.unknown())])
        .optional()
        .meta({
          description:
            'validation_error: one {path, message} per problem. forbidden: {task_types}. conflict: {ids}. ' +
            'task_not_cancellable: {status}. rate_limited: {retry_after_seconds}.',
        }),
    }),
  })
  .meta({ description: 'The body of every error response.' });
export type ErrorBody = z.infer<typeof ErrorBody>;

// ------------------------------------------------------------------------------------------------ tasks

export const TaskObject = z.object({
  id: z.string(),
  task_id: z.string().meta({ description: 'Same as id (kept for clients of the earlier version).' }),
  name: z.string(),
  type: TaskType,
  priority: Priority,
  priority_name: PriorityName,
  status: TaskStatus,
  config: z.object({
    timeout_seconds: z.number().positive(),
    max_retries: Count,
    retry_delay_seconds: z.number().min(0),
    backoff: BackoffKind,
    dependencies: z
      .array(z.string())
      .optional()
      .meta({ description: 'Ids of the tasks it waits for (given, or the previous task of a parallel: false batch); absent when none.' }),
  }),
  payload: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()),
  result: z.unknown().meta({ description: "The executor's JSON result; null until completed (a failed task may keep one)." }),
  error: z.string().nullable(),
  error_code: z.string().nullable().meta({ description: 'A stable snake_case code: timeout, cancelled, stalled, ...' }),
  progress: z.number().min(0).max(100),
  created_at: Timestamp,
  scheduled_at: z.string().nullable(),
  started_at: Timestamp.nullable(),
  completed_at: Timestamp.nullable(),
  retry_count: Count.meta({ description: 'Attempts started beyond the first.' }),
  worker_id: z.string().nullable(),
  schedule_id: z.string().nullable(),
});
export type TaskObject = z.infer<typeof TaskObject>;

export const TaskCreated = z.object({
  success: z.literal(true),
  task_id: z.string(),
  status: TaskStatus,
  created_at: Timestamp,
  task: TaskObject,
});
export type TaskCreated = z.infer<typeof TaskCreated>;

export const TaskBatchCreated = z.object({
  success: z.literal(true),
  task_ids: z.array(z.string()),
  count: Count,
  tasks: z.array(z.object({ task_id: z.string(), status: TaskStatus })).meta({ description: 'In request order.' }),
});
export type TaskBatchCreated = z.infer<typeof TaskBatchCreated>;

export const TaskList = z.object({
  tasks: z.array(TaskObject).meta({ description: 'Newest first.' }),
  total: Count.meta({ description: 'All tasks matching the filters, not just this page.' }),
  count: Count.meta({ description: 'Tasks on this page.' }),
  filters: z.object({ status: z.string().nullable(), type: z.string().nullable() }),
  next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last.' }),
});
export type TaskList = z.infer<typeof TaskList>;

export const TaskCancelled = z.object({
  success: z.literal(true),
  task_id: z.string(),
  status: z.literal('cancelled'),
  previous_status: TaskStatus,
});
export type TaskCancelled = z.infer<typeof TaskCancelled>;

export const TaskCancelRequested = z.object({
  success: z.literal(true),
  task_id: z.string(),
  status: z.literal('running'),
  cancel_requested: z.literal(true),
});
export type TaskCancelRequested = z.infer<typeof TaskCancelRequested>;

// ---------------------------------------------------------------------------------------------- workers

export const WorkerState = z.enum(['idle', 'busy', 'stopping']);
export type WorkerState = z.infer<typeof WorkerState>;

export const WorkerRecord = z.object({
  worker_id: z.string(),
  hostname: z.string(),
  pid: z.number().int(),
  task_types: z.array(TaskType),
  concurrency: Count.meta({ description: 'Slots of the process, all types together.' }),
  concurrency_by_type: z.partialRecord(TaskType, Count),
  status: WorkerState,
  active_tasks: Count,
  current_tasks: z.array(z.string()),
  current_task: z.string().nullable(),
  completed_tasks: Count,
  failed_tasks: Count,
  started_at: Timestamp,
  last_activity: Timestamp.nullable(),
  last_heartbeat: Timestamp,
});
export type WorkerRecord = z.infer<typeof WorkerRecord>;

export const WorkerList = z.object({ workers: z.array(WorkerRecord), total: Count, busy: Count });
export type WorkerList = z.infer<typeof WorkerList>;

// ------------------------------------------------------------------------------------- stats and health

export const StatusCounts = z.object(Object.fromEntries(TaskStatus.options.map((status) => [status, Count])) as Record<TaskStatus, typeof Count>);
export type StatusCounts = z.infer<typeof StatusCounts>;

const Ratio = z.number().min(0).max(1);

export const Stats = z.object({
  total_tasks: Count,
  ...StatusCounts.shape,
  by_type: z.record(TaskType, StatusCounts),
  by_priority: z.record(PriorityName, z.object({ queued: Count, running: Count })),
  avg_execution_time_ms: z.number().min(0).nullable(),
  avg_wait_time_ms: z.number().min(0).nullable(),
  success_rate: Ratio.nullable().meta({ description: 'completed / (completed + failed + timeout), over the lifetime counters.' }),
  throughput: z.object({ completed_last_minute: Count, failed_last_minute: Count }),
  lifetime: z.object({ created: Count, completed: Count, failed: Count, cancelled: Count, timeout: Count, retried: Count }),
  workers: z.object({ total: Count, busy: Count }),
  timestamp: Timestamp,
});
export type Stats = z.infer<typeof Stats>;

export const DependencyState = z.enum(['up', 'down', 'disabled']);
export type DependencyState = z.infer<typeof DependencyState>;

export const Health = z.object({
  status: z.enum(['healthy', 'degraded', 'unhealthy']),
  node: z.string(),
  name: z.string(),
  version: z.string(),
  redis: z.enum(['up', 'down']),
  workers: Count,
  queue_size: Count.nullable().meta({ description: 'Queued tasks; null while Redis is down.' }),
  dependencies: z.object({ state_machine: DependencyState, oneapi: DependencyState }),
  uptime_seconds: Count,
  timestamp: Timestamp,
});
export type Health = z.infer<typeof Health>;
