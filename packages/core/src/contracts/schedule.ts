// Schedules (CONTRACT section 7): the body of POST /schedules and its normalisation into a ScheduleSpec,
// and the shapes the /schedules routes answer. The task template is checked exactly as POST /tasks checks
// a body (normaliseTaskBody), so a schedule can never make a task the API would have refused.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_CRON_TIMEZONE, isIanaTimeZone, nextCronTime } from '../model/cron.js';
import { TaskObject, type ErrorDetail } from './responses.js';
import { normaliseTaskBody, type NormaliseContext, type TaskCreate, type TaskSpec } from './task-create.js';
import { zodDetails } from './zod-details.js';

/** A year and a day: longer intervals are better said with cron. */
const MAX_EVERY_SECONDS = 366 * 24 * 3600;

/**
 * The body of POST /schedules around a task template. The API checks the envelope with `task` =
 * z.unknown() and then the template with normaliseTaskBody (to name `task.…` in errors); the OpenAPI
 * document passes the TaskCreate union.
 */
export function scheduleCreate<Task extends z.ZodType>(task: Task) {
  return z
    .object({
      name: z.string().min(1).max(200).optional().meta({ description: "Default: the task's name." }),
      cron: z
        .string()
        .min(1)
        .max(200)
        .optional()
        .meta({
          description: 'When runs come due: 5 fields (minute first), or 6 with seconds first, or @hourly, @daily, …; read in `timezone`. Give cron or every_seconds.',
          examples: ['0 9 * * 1-5', '*/15 * * * *'],
        }),
      timezone: z
        .string()
        .min(1)
        .max(64)
        .optional()
        .meta({ description: `IANA time zone the cron expression is read in (e.g. Europe/Berlin); default ${DEFAULT_CRON_TIMEZONE}. Only with cron.` }),
      every_seconds: z
        .number()
        .int()
        .min(1)
        .max(MAX_EVERY_SECONDS)
        .optional()
        .meta({ description: 'A run every this many seconds, the first one at once. Give cron or every_seconds.' }),
      task,
    })
    .strict()
    .meta({
      description:
        'A schedule: `task` is the POST /tasks body of every run, checked like one (without id, scheduled_at or ' +
        'delay_seconds: the schedule decides those). Exactly one of cron and every_seconds.',
    });
}

const ScheduleEnvelope = scheduleCreate(z.unknown());
export type ScheduleCreate = Omit<z.infer<typeof ScheduleEnvelope>, 'task'> & { task: TaskCreate };

/** A validated, normalised request to create a schedule. */
export interface ScheduleSpec {
  id: string;
  name: string;
  /** Exactly one of cron (with its zone) and everySeconds is set. */
  cron: { expression: string; timezone: string } | null;
  everySeconds: number | null;
  /** Every run's task; its id is unused (each run's id comes from its tick). */
  task: TaskSpec;
}

/** Fields of POST /tasks that a schedule decides for each run, so a template may not set them. */
const RUN_FIELDS = {
  id: "each run's id comes from its tick",
  scheduled_at: 'the schedule decides when each run comes due',
  delay_seconds: 'the schedule decides when each run comes due',
} as const;

function timingProblems(input: z.infer<typeof ScheduleEnvelope>, now: number): ErrorDetail[] {
  const { cron, timezone, every_seconds: every } = input;
  if (cron !== undefined && every !== undefined) return [{ path: 'every_seconds', message: 'give cron or every_seconds, not both' }];
  if (cron === undefined && every === undefined) return [{ path: 'cron', message: 'give cron or every_seconds' }];
  if (cron === undefined) {
    return timezone === undefined ? [] : [{ path: 'timezone', message: 'applies to cron only; every_seconds counts from the first run' }];
  }
  if (timezone !== undefined && !isIanaTimeZone(timezone)) {
    return [{ path: 'timezone', message: 'must be an IANA time zone such as UTC, Europe/Berlin or America/New_York' }];
  }
  const next = nextCronTime(cron, timezone ?? DEFAULT_CRON_TIMEZONE, new Date(now));
  return 'problem' in next ? [{ path: 'cron', message: `not a cron expression that ever fires: ${next.problem}` }] : [];
}

function templateProblems(task: unknown, context: NormaliseContext): { spec?: TaskSpec; problems: ErrorDetail[] } {
  if (task === undefined) return { problems: [{ path: 'task', message: 'required: the POST /tasks body of every run' }] };
  const result = normaliseTaskBody(task, context, 'task.');
  const problems = [...result.problems];
  if (task !== null && typeof task === 'object') {
    for (const [field, why] of Object.entries(RUN_FIELDS)) {
      if ((task as Record<string, unknown>)[field] !== undefined) problems.push({ path: `task.${field}`, message: `not allowed in a schedule: ${why}` });
    }
  }
  return problems.length ? { problems } : { spec: result.spec!, problems };
}

/**
 * Validates a POST /schedules body and returns its ScheduleSpec, or every problem with its path
 * (`cron`, `task.payload.duration_ms`, …). A task type switched off is an ApiError (403) thrown at once.
 */
export function normaliseScheduleBody(body: unknown, context: NormaliseContext): { spec?: ScheduleSpec; problems: ErrorDetail[] } {
  const envelope = ScheduleEnvelope.safeParse(body);
  const template = templateProblems((body as { task?: unknown } | null)?.task, context);
  if (!envelope.success) return { problems: [...zodDetails(envelope.error), ...template.problems] };
  const input = envelope.data;
  const problems = [...timingProblems(input, context.now), ...template.problems];
  if (problems.length || !template.spec) return { problems };
  const task = template.spec;
  return {
    spec: {
      id: randomUUID(),
      name: input.name ?? task.name,
      cron: input.cron === undefined ? null : { expression: input.cron, timezone: input.timezone ?? DEFAULT_CRON_TIMEZONE },
      everySeconds: input.every_seconds ?? null,
      task,
    },
    problems: [],
  };
}

// ------------------------------------------------------------------------------------------ responses

const Timestamp = z.iso.datetime({ precision: 3 });

/** A schedule's task template as stored: a POST /tasks body with every default applied. */
export const ScheduledTask = TaskObject.pick({ type: true, name: true, priority: true, priority_name: true, config: true, payload: true, metadata: true });
export type ScheduledTask = z.infer<typeof ScheduledTask>;

export const ScheduleObject = z.object({
  id: z.string(),
  name: z.string(),
  cron: z.string().nullable(),
  timezone: z.string().nullable().meta({ description: 'The zone cron is read in; null with every_seconds.' }),
  every_seconds: z.number().int().positive().nullable(),
  task: ScheduledTask,
  created_at: Timestamp,
  next_run_at: Timestamp.nullable().meta({
    description: 'The tick the next run is made for (its task exists already, `pending` until then). In the past when that run is due and no worker has taken it yet.',
  }),
  last_run_at: Timestamp.nullable().meta({ description: 'When a worker started the latest run.' }),
  runs: z.number().int().min(0).meta({ description: 'Ticks a worker has started a run for (a retry of the same run is not counted again).' }),
});
export type ScheduleObject = z.infer<typeof ScheduleObject>;

export const ScheduleCreated = z.object({ success: z.literal(true), id: z.string(), schedule: ScheduleObject });
export type ScheduleCreated = z.infer<typeof ScheduleCreated>;

export const ScheduleList = z.object({
  schedules: z.array(ScheduleObject).meta({ description: 'Newest first.' }),
  total: z.number().int().min(0),
});
export type ScheduleList = z.infer<typeof ScheduleList>;

export const ScheduleDeleted = z.object({ success: z.literal(true), id: z.string(), deleted: z.literal(true) });
export type ScheduleDeleted = z.infer<typeof ScheduleDeleted>;
