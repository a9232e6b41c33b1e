// The shapes of CONTRACT section 7's "Retry" and "Queues": the bulk retry query and the answers of
// POST /tasks/{id}/retry, POST /tasks/retry, GET /queues and POST /queues/{type}/pause|resume. Routes
// parse with them, the client takes its types from them and the OpenAPI document is generated from them.
import { z } from 'zod';
import { RateLimit, TaskType } from '../config/schema.js';
import { TaskStatus } from '../model/status.js';
import { StatusCounts } from './responses.js';
import { commaList, splitList, TypeList, wholeNumberParam } from './task-list-query.js';

const Count = z.number().int().min(0);

/** The statuses a retry takes a task from: every final one but `completed`. */
export const RETRYABLE_STATUSES = ['failed', 'timeout', 'cancelled'] as const;
export const RetryableStatus = z.enum(RETRYABLE_STATUSES);
export type RetryableStatus = z.infer<typeof RetryableStatus>;

/** Most tasks one POST /tasks/retry retries (and its default). */
export const BULK_RETRY_LIMIT = { min: 1, max: 1000, default: 1000 } as const;

/**
 * The query of POST /tasks/retry, parameter by parameter. Strict: a misspelt filter would otherwise be
 * dropped and widen what a bulk change touches, so an unknown parameter is a 400 that names it.
 */
export const BulkRetryQueryFields = z.strictObject({
  status: commaList(RETRYABLE_STATUSES, 'retryable status')
    .optional()
    .meta({ description: `One status or a comma list of: ${RETRYABLE_STATUSES.join(', ')}. Default failed.`, examples: ['failed,timeout'] }),
  task_type: TypeList.optional().meta({ description: `One task type or a comma list of: ${TaskType.options.join(', ')}. Default: every type the key may use.` }),
  type: TypeList.optional().meta({ description: 'Alias of task_type (task_type wins when both are given).' }),
  limit: wholeNumberParam(BULK_RETRY_LIMIT, 'Most tasks retried by this call; call again for more.'),
});

export const BulkRetryQuery = BulkRetryQueryFields.transform((query) => {
  const statuses = splitList(query.status ?? '') as RetryableStatus[];
  const types = splitList(query.task_type ?? query.type ?? '') as TaskType[];
  return {
    statuses: statuses.length ? statuses : (['failed'] as RetryableStatus[]),
    types: types.length ? types : undefined,
    limit: query.limit === undefined ? BULK_RETRY_LIMIT.default : Number(query.limit),
  };
});
export type BulkRetryQuery = z.infer<typeof BulkRetryQuery>;

export const TaskRetried = z.object({
  success: z.literal(true),
  task_id: z.string(),
  status: TaskStatus.meta({ description: 'Where the task is now: queued (it waits in its queue, also while the queue is paused).' }),
  previous_status: RetryableStatus,
});
export type TaskRetried = z.infer<typeof TaskRetried>;

export const RetrySkip = z.object({
  task_id: z.string(),
  reason: z.string().meta({ description: 'Why it was not retried, e.g. "dependency not completed", "it is queued now".' }),
});
export type RetrySkip = z.infer<typeof RetrySkip>;

export const TasksRetried = z.object({
  success: z.literal(true),
  retried: Count,
  task_ids: z.array(z.string()).meta({ description: 'The tasks retried, each back in its queue.' }),
  skipped: z.array(RetrySkip).meta({ description: 'Tasks that matched the filters but were not retried (the first 1000).' }),
});
export type TasksRetried = z.infer<typeof TasksRetried>;

export const QueueInfo = z.object({
  type: TaskType,
  paused: z.boolean().meta({ description: 'Paused for every worker: no task of the type starts; running ones finish.' }),
  counts: StatusCounts,
  concurrency: Count.meta({ description: 'Slots for this type over every live worker process.' }),
  workers: Count.meta({ description: 'Live worker processes serving this type.' }),
  rate_limit: RateLimit.nullable().meta({ description: 'workers.rate_limits.<type>: most starts per duration_seconds, across all workers.' }),
});
export type QueueInfo = z.infer<typeof QueueInfo>;

export const QueueList = z.object({ queues: z.array(QueueInfo), total: Count });
export type QueueList = z.infer<typeof QueueList>;

export const QueuePauseState = z.object({ success: z.literal(true), type: TaskType, paused: z.boolean() });
export type QueuePauseState = z.infer<typeof QueuePauseState>;
