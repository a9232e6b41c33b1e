// The body of POST /tasks (CONTRACT section 3) and its normalisation into a TaskSpec: defaults applied,
// priority names resolved, the payload checked by its type's schema. POST /tasks/batch reuses it per task.
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { TaskType } from '../config/schema.js';
import { ApiError } from '../errors.js';
import type { ExecutorRegistry } from '../executor.js';
import { BackoffKind } from '../model/backoff.js';
import { DEFAULT_PRIORITY, parsePriority, PRIORITY_NAMES, type Priority } from '../model/priority.js';
import type { TaskWorkflow } from '../workflows/workflow-model.js';
import type { ErrorDetail, TaskObject } from './responses.js';
import { zodDetails } from './zod-details.js';

/** Fields a task object has that the server owns: accepted in a body (old clients send them) and ignored. */
export const SERVER_OWNED_FIELDS = [
  'status', 'result', 'error', 'error_code', 'progress', 'created_at', 'started_at', 'completed_at',
  'retry_count', 'worker_id', 'task_id', 'priority_name', 'schedule_id',
] as const;

/**
 * BullMQ forbids whole-number job ids (they collide with its own counter) and uses these words as key
 * names beside job keys, so a task id may not be any of them.
 */
const RESERVED_IDS = new Set([
  'active', 'wait', 'waiting-children', 'paused', 'id', 'delayed', 'prioritized', 'stalled-check', 'completed',
  'failed', 'stalled', 'repeat', 'limiter', 'meta', 'events', 'pc', 'marker', 'de', 'metrics',
]);

export const ClientTaskId = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 _ . -')
  .refine((id) => !/^\d+$/.test(id), 'may not be a whole number (reserved for the queue\'s own ids)')
  .refine((id) => !RESERVED_IDS.has(id), 'is a reserved word');

const MAX_METADATA_BYTES = 16 * 1024;

/** Most dependencies one task may name (each costs a registration with that task when it is created). */
export const MAX_DEPENDENCIES = 100;

/** A task id as a dependency names it: any id the engine may have given (a UUID) or a client chose. */
const DependencyId = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be a task id (1-128 characters of A-Z a-z 0-9 _ . -)');

/** Retry delays are stored as whole milliseconds; past 2^53 ms those are no longer exact (and 1e306 s is Infinity ms). */
const MAX_RETRY_DELAY_SECONDS = Math.floor(Number.MAX_SAFE_INTEGER / 1000);

/** The latest run time a task may have: the end of the last year scheduled_at can spell (4 digits). */
const LATEST_RUN_AT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export const TaskConfigInput = z
  .object({
    timeout_seconds: z.number().positive().optional().meta({ description: 'Per attempt, at most tasks.max_timeout; default from config (per type).' }),
    max_retries: z.number().int().min(0).max(25).optional().meta({ description: 'Retries after the first attempt; default from config.' }),
    retry_delay_seconds: z
      .number()
      .min(0)
      .max(MAX_RETRY_DELAY_SECONDS)
      .optional()
      .meta({ description: 'Delay before the first retry, kept in whole milliseconds; default from config.' }),
    backoff: BackoffKind.optional().meta({ description: 'exponential (default): delay × 2^(n−1) before retry n; fixed: delay every time.' }),
    dependencies: z
      .array(DependencyId)
      .max(MAX_DEPENDENCIES)
      .optional()
      .meta({
        description:
          `Ids of tasks (at most ${MAX_DEPENDENCIES}) that must complete first: the task is pending until all have completed, then ` +
          'queued at its priority; if one ends failed, cancelled or timeout, the task ends cancelled with error_code ' +
          'dependency_failed. In a batch, an id may name a task earlier in the same batch. Unknown ids are a 400.',
      }),
  })
  .strict();

const ignored = z.unknown().optional().meta({ description: 'Server-owned: accepted (clients of the earlier version send it) and ignored.' });

/** The fields of a POST /tasks body; TaskCreate adds the rule that spans two of them. */
export const TaskCreateFields = z
  .object({
    type: TaskType,
    id: ClientTaskId.optional().meta({ description: 'Client-chosen id: makes the request idempotent (same task again: 200; a different one: 409).' }),
    name: z.string().min(1).max(200).optional().meta({ description: 'Default: the type.' }),
    priority: z
      .union([z.number(), z.string()])
      .optional()
      .refine((value) => value === undefined || parsePriority(value) !== undefined, {
        message: 'must be 0-4 or one of CRITICAL, HIGH, NORMAL, LOW, BACKGROUND',
      })
      .meta({ description: `0-4 or its name in any case (${PRIORITY_NAMES.join(', ')}); default ${DEFAULT_PRIORITY}.`, examples: [1, 'HIGH'] }),
    config: TaskConfigInput.optional(),
    payload: z.record(z.string(), z.unknown()).optional().meta({ description: "Checked by the type's payload schema when the task is created." }),
    metadata: z
      .record(z.string(), z.unknown())
      .optional()
      .refine((value) => value === undefined || Buffer.byteLength(JSON.stringify(value)) <= MAX_METADATA_BYTES, {
        message: 'must be at most 16 KiB of JSON',
      })
      .meta({ description: 'At most 16 KiB of JSON; stored and returned as given.' }),
    scheduled_at: z.iso.datetime({ offset: true }).optional().meta({ description: 'Run at this time (pending until then); not with delay_seconds.' }),
    delay_seconds: z.number().min(0).optional().meta({ description: 'Run this many seconds from now; not with scheduled_at.' }),
    ...Object.fromEntries(SERVER_OWNED_FIELDS.map((field) => [field, ignored])),
  })
  .strict();

function withOneRunTime<S extends z.ZodType<{ scheduled_at?: string; delay_seconds?: number }>>(schema: S): S {
  return schema.refine((body) => !(body.scheduled_at !== undefined && body.delay_seconds !== undefined), {
    message: 'give scheduled_at or delay_seconds, not both',
    path: ['delay_seconds'],
  });
}

/** The body of POST /tasks, as the API validates it (the payload is checked by its type's schema next). */
export const TaskCreate = withOneRunTime(TaskCreateFields);
export type TaskCreate = z.infer<typeof TaskCreate>;

/**
 * TaskCreate for one task type, its payload checked by that type's schema: the two checks the API makes
 * one after the other, as one schema, so the OpenAPI document can show every type's body.
 */
export function taskCreateFor(type: TaskType, payloadSchema: z.ZodType) {
  return withOneRunTime(TaskCreateFields.extend({ type: z.literal(type), payload: payloadSchema.optional() }));
}

/**
 * The body of POST /tasks/batch. The API checks the envelope with `item` = z.unknown() and then each task
 * with TaskCreate (to name `tasks[i]…` in errors); the OpenAPI document passes the TaskCreate union.
 */
export function taskBatchCreate<Item extends z.ZodType>(maxBatchSize: number, item: Item) {
  const size = `must hold 1 to ${maxBatchSize} tasks (tasks.max_batch_size)`;
  return z
    .object({
      tasks: z.array(item, { error: 'must be an array of tasks' }).min(1, size).max(maxBatchSize, size),
      parallel: z
        .boolean()
        .optional()
        .meta({ description: 'true (default): tasks run independently. false: a chain, each task depends on the one before it.' }),
      max_concurrency: z
        .number()
        .int()
        .min(1)
        .optional()
        .meta({
          description:
            'At most this many tasks of the batch run (or are queued) at once, across all workers; the others wait ' +
            'pending and are released in batch order as earlier ones end. Default: no limit.',
        }),
    })
    .strict();
}
export type TaskBatchCreate = z.infer<ReturnType<typeof taskBatchCreate<z.ZodUnknown>>>;

export type ResolvedTaskConfig = Omit<TaskObject['config'], 'dependencies'>;

/** A validated, normalised request to create one task. */
export interface TaskSpec {
  id: string;
  /** True when the client chose the id (the request is then idempotent). */
  clientId: boolean;
  type: TaskType;
  name: string;
  priority: Priority;
  config: ResolvedTaskConfig;
  payload: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** When it may run, ms since epoch; null for "now". */
  runAtMs: number | null;
  /** `config.dependencies` as given; resolved into `workflow` (planWorkflows) before it is stored. */
  dependsOn?: string[];
  /** Set when the task must wait (dependencies, a batch's slot): it is then stored held. */
  workflow?: TaskWorkflow | null;
  /**
   * Hash of everything that defines the task, compared when a client id is posted again; only tasks
   * with a client id have one (hashing every task would cost the hot path for nothing).
   */
  fingerprint: string | null;
}

/** JSON with object keys sorted and undefined members left out: equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, inner]) => inner !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
}

export interface NormaliseContext {
  config: Config;
  executors: ExecutorRegistry;
  now: number;
}

/**
 * Validates one body and returns its TaskSpec, or the problems with paths under `pathPrefix`
 * (e.g. `tasks[3].`). A type switched off is an ApiError (403) thrown at once.
 */
export function normaliseTaskBody(
  body: unknown,
  context: NormaliseContext,
  pathPrefix = '',
): { spec?: TaskSpec; problems: ErrorDetail[] } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { problems: [{ path: pathPrefix.replace(/\.$/, '') || '(body)', message: 'must be a JSON object' }] };
  }
  const parsed = TaskCreate.safeParse(body);
  if (!parsed.success) return { problems: zodDetails(parsed.error, pathPrefix) };
  const input = parsed.data;
  const { config, executors, now } = context;

  const definition = executors[input.type];
  if (!definition) {
    return {
      problems: [{ path: `${pathPrefix}type`, message: `task type "${input.type}" is not available on this server` }],
    };
  }
  const refusal = definition.refuse?.();
  if (refusal) throw refusal;

  const payloadResult = definition.payloadSchema.safeParse(input.payload ?? {});
  if (!payloadResult.success) return { problems: zodDetails(payloadResult.error, `${pathPrefix}payload.`) };

  const typeDefaults = config.tasks.per_type[input.type] ?? {};
  const taskConfig: ResolvedTaskConfig = {
    timeout_seconds: input.config?.timeout_seconds ?? typeDefaults.default_timeout ?? config.tasks.default_timeout,
    max_retries: input.config?.max_retries ?? typeDefaults.max_retries ?? config.tasks.max_retries,
    // BullMQ keeps the delay in whole ms: answer what is stored (0.0010000000000000002 was answered as
    // given, then read back as 0.001).
    retry_delay_seconds: Math.round((input.config?.retry_delay_seconds ?? typeDefaults.retry_delay ?? config.tasks.retry_delay) * 1000) / 1000,
    backoff: input.config?.backoff ?? 'exponential',
  };
  if (taskConfig.timeout_seconds > config.tasks.max_timeout) {
    return {
      problems: [
        { path: `${pathPrefix}config.timeout_seconds`, message: `must be at most ${config.tasks.max_timeout} (tasks.max_timeout)` },
      ],
    };
  }

  let runAtMs: number | null = null;
  if (input.scheduled_at !== undefined) runAtMs = Date.parse(input.scheduled_at);
  else if (input.delay_seconds !== undefined && input.delay_seconds > 0) runAtMs = now + Math.round(input.delay_seconds * 1000);
  if (runAtMs !== null && runAtMs <= now) runAtMs = null;
  // A huge delay_seconds (1e13) is a valid number but no valid time: the store's toISOString threw, a 500.
  if (runAtMs !== null && !(runAtMs <= LATEST_RUN_AT_MS)) {
    const field = input.scheduled_at !== undefined ? 'scheduled_at' : 'delay_seconds';
    return { problems: [{ path: `${pathPrefix}${field}`, message: 'puts the run time after 9999-12-31T23:59:59.999Z' }] };
  }

  const priority = input.priority === undefined ? DEFAULT_PRIORITY : parsePriority(input.priority)!;
  const name = input.name ?? input.type;
  const payload = input.payload ?? {};
  const metadata = input.metadata ?? {};
  const dependsOn = input.config?.dependencies ?? [];
  // delay_seconds is compared as given: the same request posted twice must match although "now" moved.
  const when = input.scheduled_at ?? (input.delay_seconds !== undefined ? { delay_seconds: input.delay_seconds } : null);
  const fingerprint =
    input.id === undefined
      ? null
      : createHash('sha256')
          .update(canonicalJson({ type: input.type, name, priority, config: taskConfig, payload, metadata, when }))
          .digest('base64url')
          .slice(0, 22);
  return {
    spec: {
      id: input.id ?? randomUUID(),
      clientId: input.id !== undefined,
      type: input.type,
      name,
      priority,
      config: taskConfig,
      payload,
      metadata,
      runAtMs,
      dependsOn,
      fingerprint,
    },
    problems: [],
  };
}
