// The shapes of CONTRACT section 7's live events and task logs, as zod schemas: the API writes them,
// the client reads them, and the OpenAPI document is generated from them.
import { z } from 'zod';
import { TaskType } from '../config/schema.js';
import { TaskStatus } from '../model/status.js';
import { quoteInput } from './zod-details.js';

const Timestamp = z.iso.datetime({ precision: 3 });
const Count = z.number().int().min(0);
const Percent = z.number().min(0).max(100);

/** `event: status` of an event stream: a task changed status (or, first on a task's stream, its current state). */
export const TaskStatusEvent = z
  .object({
    task_id: z.string(),
    type: TaskType,
    status: TaskStatus,
    previous_status: TaskStatus.nullable().meta({
      description: 'The status before this one; null for a task just created, and for the current state a task stream sends first.',
    }),
    progress: Percent,
    error_code: z.string().nullable().meta({ description: 'As the task object shows it at this status.' }),
    retry_count: Count,
    at: Timestamp.meta({ description: 'When the change happened (Redis time); for the first state of a task stream, when it was read.' }),
  })
  .meta({ description: 'Data of `event: status`.' });
export type TaskStatusEvent = z.infer<typeof TaskStatusEvent>;

/** `event: progress`: the executor reported progress. */
export const TaskProgressEvent = z
  .object({ task_id: z.string(), type: TaskType, progress: Percent, at: Timestamp })
  .meta({ description: 'Data of `event: progress`.' });
export type TaskProgressEvent = z.infer<typeof TaskProgressEvent>;

export const TASK_LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const TaskLogLevel = z.enum(TASK_LOG_LEVELS);
export type TaskLogLevel = z.infer<typeof TaskLogLevel>;

export const TaskLogLine = z.object({
  time: Timestamp.nullable().meta({ description: 'When the executor logged it; null only for a line written by other means (BullMQ job.log).' }),
  level: TaskLogLevel,
  message: z.string().meta({ description: 'The message, then its fields as JSON with secret-looking ones masked; cut at logging.task_log.max_line_length.' }),
  attempt: z.number().int().min(1).nullable().meta({ description: 'The run that logged it: retry_count + 1 of that run.' }),
});
export type TaskLogLine = z.infer<typeof TaskLogLine>;

export const TaskLogs = z.object({
  task_id: z.string(),
  logs: z.array(TaskLogLine).meta({ description: 'Oldest first; the newest logging.task_log.max_lines lines of the task.' }),
  count: Count,
});
export type TaskLogs = z.infer<typeof TaskLogs>;

/** GET /events's query: `type`, one task type or a comma list (all types when absent). */
export const EventsQueryFields = z.object({
  type: z
    .string({ error: 'give it once' })
    .superRefine((text, ctx) => {
      for (const item of text.split(',').map((part) => part.trim())) {
        if (!TaskType.safeParse(item).success) {
          ctx.addIssue({ code: 'custom', message: `unknown task type ${quoteInput(item)}; one of ${TaskType.options.join(', ')}` });
        }
      }
    })
    .optional()
    .meta({ description: `One task type or a comma list of: ${TaskType.options.join(', ')}. All types when absent.` }),
});

export const EventsQuery = EventsQueryFields.transform(({ type }) => ({
  types: type === undefined ? undefined : [...new Set(type.split(',').map((part) => part.trim()))] as TaskType[],
}));
export type EventsQuery = z.infer<typeof EventsQuery>;
