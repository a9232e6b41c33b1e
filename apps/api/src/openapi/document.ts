// The OpenAPI 3.1 document of this API (served at /openapi.json), built once at start from the zod schemas
// the routes validate with (@taskengine/core contracts) and the executor registry the app was built with:
// each task type's payload schema becomes a component, so a type added to the registry shows up here
// without a line of this file changing. What is written here is only what zod cannot know: the paths,
// their status codes, and which errors each route can answer.
import {
  BulkRetryQueryFields,
  ErrorBody,
  ErrorDetail,
  EventsQueryFields,
  Health,
  PriorityName,
  QueueInfo,
  QueueList,
  QueuePauseState,
  RetrySkip,
  scheduleCreate,
  ScheduleCreated,
  ScheduleDeleted,
  ScheduledTask,
  ScheduleList,
  ScheduleObject,
  Stats,
  StatusCounts,
  TASK_TYPES,
  TaskBatchCreated,
  taskBatchCreate,
  TaskCancelled,
  TaskCancelRequested,
  TaskCreate,
  TaskCreated,
  taskCreateFor,
  TaskList,
  TaskListQueryFields,
  TaskLogLine,
  TaskLogs,
  TaskObject,
  TaskRetried,
  TasksRetried,
  TaskProgressEvent,
  TaskStatus,
  TaskStatusEvent,
  TaskType,
  WorkerList,
  WorkerRecord,
  type Config,
  type ExecutorRegistry,
} from '@taskengine/core';
import { z } from 'zod';
import { componentsOf, mergeComponents, ref, schemaRegistry, toJsonSchema, type JsonSchema } from './components.js';

export interface DocumentOptions {
  config: Config;
  executors: ExecutorRegistry;
  version: string;
  /** Whether API keys are configured (config or TASKENGINE_API_KEYS): then routes but the open ones need one. */
  keysRequired: boolean;
}

export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, unknown>> };

/** `network_request` → `NetworkRequest`. */
const pascal = (type: string): string => type.replace(/(^|_)([a-z])/g, (_, __, letter: string) => letter.toUpperCase());

/** Request bodies, as clients may send them: each available type's payload and body, and their union. */
function requestComponents(config: Config, executors: ExecutorRegistry) {
  const registry = schemaRegistry();
  const variants = [];
  const mapping: Record<string, string> = {};
  for (const type of TASK_TYPES) {
    const definition = executors[type];
    if (!definition) continue;
    registry.add(definition.payloadSchema, { id: `${pascal(type)}Payload` });
    const variant = taskCreateFor(type, definition.payloadSchema).meta({
      description: `POST /tasks body for a ${type} task; payload checked by ${pascal(type)}Payload.`,
    });
    registry.add(variant, { id: `${pascal(type)}TaskCreate` });
    variants.push(variant);
    mapping[type] = ref(`${pascal(type)}TaskCreate`).$ref;
  }
  const [first, ...rest] = variants;
  const body = first
    ? z.discriminatedUnion('type', [first, ...rest]).meta({ description: 'One task, by type: each type has its own payload schema.' })
    : TaskCreate;
  registry.add(body, { id: 'TaskCreate' });
  registry.add(taskBatchCreate(config.tasks.max_batch_size, body), { id: 'TaskBatchCreate' });
  registry.add(scheduleCreate(body), { id: 'ScheduleCreate' });
  const components = componentsOf(registry, 'input');
  if (first) components.TaskCreate = { ...components.TaskCreate, discriminator: { propertyName: 'type', mapping } };
  return components;
}

/** Response bodies; the enums get names of their own so clients generate one type for each. */
function responseComponents() {
  const registry = schemaRegistry();
  const named = {
    TaskType, TaskStatus, PriorityName, TaskObject, TaskCreated, TaskBatchCreated, TaskList, TaskCancelled,
    TaskCancelRequested, TaskRetried, RetrySkip, TasksRetried, QueueInfo, QueueList, QueuePauseState,
    WorkerRecord, WorkerList, StatusCounts, Stats, Health, ErrorDetail, ErrorBody,
    TaskStatusEvent, TaskProgressEvent, TaskLogLine, TaskLogs,
    ScheduledTask, ScheduleObject, ScheduleCreated, ScheduleList, ScheduleDeleted,
  };
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  return componentsOf(registry, 'output');
}

/** Query parameters, one per field of the schema the route parses the query with. */
function queryParameters(fields: z.ZodObject): JsonSchema[] {
  return Object.entries(fields.shape).map(([name, field]) => {
    const { description, ...schema } = toJsonSchema(field, 'input');
    return { name, in: 'query', required: false, description, schema };
  });
}

// ---------------------------------------------------------------------------------------------- errors

type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503;

const ERRORS: Record<ErrorStatus, { name: string; description: string; headers?: Record<string, unknown> }> = {
  400: { name: 'BadRequest', description: '`invalid_json` or `validation_error` (details: one {path, message} per problem).' },
  401: {
    name: 'Unauthorized',
    description: '`unauthorized`: no API key, or not a valid one.',
    headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
  },
  403: { name: 'Forbidden', description: '`forbidden`: the API key is scoped to other task types, or the type is switched off.' },
  404: { name: 'NotFound', description: '`task_not_found` (unknown, or past retention) or `not_found` (e.g. an unknown schedule).' },
  409: {
    name: 'Conflict',
    description:
      '`conflict` (a client id used by a different task; a task that cannot be retried, details: {status, reason}) ' +
      'or `task_not_cancellable`.',
  },
  413: { name: 'PayloadTooLarge', description: '`payload_too_large`: the body is larger than server.body_limit.' },
  415: { name: 'UnsupportedEncoding', description: "`validation_error`: the body's encoding or charset is not supported; send UTF-8 JSON." },
  429: {
    name: 'RateLimited',
    description: '`rate_limited`: over server.rate_limit; wait Retry-After seconds.',
    headers: { 'Retry-After': { description: 'Seconds until the window resets.', schema: { type: 'integer' } } },
  },
  500: { name: 'InternalError', description: '`internal_error` (never a stack trace).' },
  503: {
    name: 'Unavailable',
    description:
      '`unavailable`: Redis is unreachable, or out of memory (`details.reason`: `redis_out_of_memory`; nothing was ' +
      'stored); try again shortly. A create in flight when the connection to Redis dropped may have been stored: ' +
      'retry it with the same client `id` to get exactly one task. With `redis.wait_replicas` set, also when too few ' +
      'replicas confirmed a create, retry or schedule in time (`details`: `{reason: "replication_timeout", ' +
      'replicas_confirmed, replicas_wanted, task_ids | schedule_id}`): it is on the master but not yet replicated, ' +
      'and repeating a create with the same client `id` is safe. On Redis Cluster, a batch of several types whose ' +
      'types were stored on some nodes and refused on another: `details`: `{reason: "partially_stored", ' +
      'stored_task_ids}`; sending the same batch again with the same ids creates the rest once.',
  },
};

function errorResponses(): Record<string, unknown> {
  return Object.fromEntries(
    Object.values(ERRORS).map(({ name, description, headers }) => [
      name,
      { description, ...(headers ? { headers } : {}), content: { 'application/json': { schema: ref('ErrorBody') } } },
    ]),
  );
}

// ---------------------------------------------------------------------------------------------- routes

interface Operation {
  method: 'get' | 'post' | 'delete';
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: 'tasks' | 'queues' | 'schedules' | 'monitoring' | 'docs';
  /** Served without a key (CONTRACT section 6): mounted before authentication. */
  open?: boolean;
  /** Mounted behind the Redis guard: 503 while Redis is away. */
  needsRedis?: boolean;
  parameters?: JsonSchema[];
  body?: string;
  /** A response with neither `schema` nor `content` has no body. */
  responses: Record<number, { description: string; schema?: string; content?: Record<string, unknown> }>;
  errors?: ErrorStatus[];
}

/** A text/event-stream body whose events' data are the named schemas. */
const eventStreamContent = (schemas: string) => ({
  'text/event-stream': { schema: { type: 'string', description: `Server-Sent Events; each event's data is one line of JSON: ${schemas}.` } },
});

const TASK_ID = { name: 'id', in: 'path', required: true, description: 'The task id.', schema: { type: 'string' } };
const QUEUE_TYPE = { name: 'type', in: 'path', required: true, description: 'The task type whose queue it is.', schema: ref('TaskType') };
/** The header an EventSource sends when it reconnects; what it does depends on the stream. */
const lastEventIdHeader = (description: string) => ({ name: 'Last-Event-ID', in: 'header', required: false, description, schema: { type: 'string' } });
const SCHEDULE_ID = { name: 'id', in: 'path', required: true, description: 'The schedule id.', schema: { type: 'string' } };

function operations(config: Config): Operation[] {
  const tasks = { tag: 'tasks', needsRedis: true } as const;
  const schedules = { tag: 'schedules', needsRedis: true } as const;
  return [
    {
      ...tasks, method: 'post', path: '/tasks', operationId: 'createTask', summary: 'Create a task',
      description: "The payload is checked by the type's schema now, so a bad payload is a 400 now, not a failure later. " +
        'With a client `id` the request is idempotent: the same task again answers 200 with the stored task.',
      body: 'TaskCreate',
      responses: { 201: { description: 'Created.', schema: 'TaskCreated' }, 200: { description: 'The same client id and task again: the stored task.', schema: 'TaskCreated' } },
      errors: [403, 409],
    },
    {
      ...tasks, method: 'post', path: '/tasks/batch', operationId: 'createTasks', summary: 'Create tasks at once',
      description: `1 to ${config.tasks.max_batch_size} tasks (tasks.max_batch_size). All or nothing: one bad task is a 400 naming tasks[i]…, and nothing is created.`,
      body: 'TaskBatchCreate',
      responses: { 201: { description: 'Created, in request order.', schema: 'TaskBatchCreated' } },
      errors: [403, 409],
    },
    {
      ...tasks, method: 'get', path: '/tasks', operationId: 'listTasks', summary: 'List tasks, newest first',
      description: 'Paged by cursor: paging never repeats or skips a task. `total` counts every task matching the filters.',
      parameters: queryParameters(TaskListQueryFields),
      responses: { 200: { description: 'One page.', schema: 'TaskList' } },
      errors: [400, 403],
    },
    {
      ...tasks, method: 'get', path: '/tasks/{id}', operationId: 'getTask', summary: 'Get a task',
      parameters: [TASK_ID],
      responses: { 200: { description: 'The task.', schema: 'TaskObject' } },
      errors: [403, 404],
    },
    {
      ...tasks, method: 'get', path: '/tasks/{id}/events', operationId: 'streamTaskEvents', summary: "Follow a task's status and progress live",
      description: "Server-Sent Events. First the task's current state (`event: status`, previous_status null), then each change: " +
        '`event: status` (TaskStatusEvent) and `event: progress` (TaskProgressEvent), in order, each once; the stream ends after ' +
        'a final status (completed, failed, cancelled, timeout), at once for a task already final. Each event has an `id` ' +
        `(its Redis stream id). A \`: ping\` comment comes every ${config.server.events.heartbeat_seconds} s (server.events.heartbeat_seconds). ` +
        'A request with Last-Event-ID (a browser EventSource reconnecting) for a final task answers 204, which stops the reconnecting.',
      parameters: [TASK_ID, lastEventIdHeader('Sent by an EventSource reconnecting.')],
      responses: {
        200: { description: 'The event stream.', content: eventStreamContent('TaskStatusEvent, then TaskStatusEvent and TaskProgressEvent') },
        204: { description: 'Last-Event-ID was sent and the task is final: nothing more will come.' },
      },
      errors: [403, 404],
    },
    {
      ...tasks, method: 'get', path: '/tasks/{id}/logs', operationId: 'getTaskLogs', summary: "A task's log",
      description: 'The lines its executor logged (ctx.log), oldest first, every attempt: the newest logging.task_log.max_lines, ' +
        'each cut at logging.task_log.max_line_length characters, secret-looking fields masked. Removed with the task.',
      parameters: [TASK_ID],
      responses: { 200: { description: "The task's log.", schema: 'TaskLogs' } },
      errors: [403, 404],
    },
    {
      ...tasks, method: 'get', path: '/events', operationId: 'streamEvents', summary: "Follow every task's status and progress live",
      description: 'Server-Sent Events: `event: status` (TaskStatusEvent) and `event: progress` (TaskProgressEvent) of every task of ' +
        'the types asked for (all when `type` is absent; a key scoped to task types gets its own types), from the moment the ' +
        'response headers arrive. A `: ping` comment comes every server.events.heartbeat_seconds. Each event\'s `id` is the ' +
        'stream\'s position in every watched type (`custom=<stream id>;…`): sent back as Last-Event-ID, it resumes the stream ' +
        'with the events missed since, in order; `event: resync` (`{reason: "events_missed", types}`) first when some are gone.',
      parameters: [
        ...queryParameters(EventsQueryFields),
        lastEventIdHeader('The id of the last event received, to resume after it.'),
      ],
      responses: { 200: { description: 'The event stream.', content: eventStreamContent('TaskStatusEvent and TaskProgressEvent') } },
      errors: [400, 403],
    },
    {
      ...tasks, method: 'post', path: '/tasks/{id}/cancel', operationId: 'cancelTask', summary: 'Cancel a task',
      description: `A pending or queued task is cancelled at once. A running one is stopped by its worker; the API waits up to ` +
        `${config.server.cancel_wait_seconds} s (server.cancel_wait_seconds) for that, then answers 202 if it has not confirmed yet.`,
      parameters: [TASK_ID],
      responses: {
        200: { description: 'Cancelled.', schema: 'TaskCancelled' },
        202: { description: 'Running; its worker has been told and has not confirmed yet.', schema: 'TaskCancelRequested' },
      },
      errors: [400, 403, 404, 409],
    },
    {
      ...tasks, method: 'post', path: '/tasks/{id}/retry', operationId: 'retryTask', summary: 'Retry a failed, timed-out or cancelled task',
      description: 'The same task (same id) goes back into its queue at its priority with a fresh max_retries budget; result, error, ' +
        'error_code, progress, started_at and completed_at are reset; retry_count keeps counting. Any other status is a 409 ' +
        '`conflict` (details: {status, reason}); so is a task cancelled with `dependency_failed` while its dependency is not completed.',
      parameters: [TASK_ID],
      responses: { 200: { description: 'Back in its queue.', schema: 'TaskRetried' } },
      errors: [403, 404, 409],
    },
    {
      ...tasks, method: 'post', path: '/tasks/retry', operationId: 'retryTasks', summary: 'Retry the tasks matching a filter',
      description: 'Retries up to `limit` tasks (at most 1000 a call; call again for more), type by type, oldest finished first. ' +
        'Each task is retried atomically as by POST /tasks/{id}/retry; matching tasks that may not be retried are listed in ' +
        '`skipped` (the first 1000) and do not count against the limit.',
      parameters: queryParameters(BulkRetryQueryFields),
      responses: { 200: { description: 'What was retried and what was skipped.', schema: 'TasksRetried' } },
      errors: [400, 403],
    },
    {
      method: 'get', path: '/queues', operationId: 'listQueues', summary: "Every task type's queue", tag: 'queues', needsRedis: true,
      description: 'Paused state, status counts (as /stats), the slots and worker processes serving the type, and its rate limit.',
      responses: { 200: { description: 'The queues (a scoped key sees its own types only).', schema: 'QueueList' } },
    },
    {
      method: 'post', path: '/queues/{type}/pause', operationId: 'pauseQueue', summary: 'Pause a queue', tag: 'queues', needsRedis: true,
      description: 'No task of the type starts on any worker until resumed; running tasks finish; new and retried tasks wait queued.',
      parameters: [QUEUE_TYPE],
      responses: { 200: { description: 'Paused.', schema: 'QueuePauseState' } },
      errors: [400, 403],
    },
    {
      method: 'post', path: '/queues/{type}/resume', operationId: 'resumeQueue', summary: 'Resume a queue', tag: 'queues', needsRedis: true,
      parameters: [QUEUE_TYPE],
      responses: { 200: { description: 'Resumed: queued tasks start again.', schema: 'QueuePauseState' } },
      errors: [400, 403],
    },
    {
      ...schedules, method: 'post', path: '/schedules', operationId: 'createSchedule', summary: 'Create a schedule',
      description: 'Each tick makes exactly one task (its id derived from the tick), carrying `schedule_id`, whatever the number ' +
        'of API and worker processes. With every_seconds the first run comes at once. `task` is checked exactly as POST /tasks ' +
        "checks a body: a bad template is a 400 naming `task.…`, a task type the key may not use a 403.",
      body: 'ScheduleCreate',
      responses: { 201: { description: 'Created; its first run is made.', schema: 'ScheduleCreated' } },
      errors: [403],
    },
    {
      ...schedules, method: 'get', path: '/schedules', operationId: 'listSchedules', summary: 'List schedules, newest first',
      responses: { 200: { description: 'Every schedule (of the key\'s task types, for a scoped key).', schema: 'ScheduleList' } },
    },
    {
      ...schedules, method: 'get', path: '/schedules/{id}', operationId: 'getSchedule', summary: 'Get a schedule',
      parameters: [SCHEDULE_ID],
      responses: { 200: { description: 'The schedule.', schema: 'ScheduleObject' } },
      errors: [403, 404],
    },
    {
      ...schedules, method: 'delete', path: '/schedules/{id}', operationId: 'deleteSchedule', summary: 'Delete a schedule',
      description: 'No run is made after this answers. The run waiting for a tick not yet due is cancelled; a run already due or running goes on.',
      parameters: [SCHEDULE_ID],
      responses: { 200: { description: 'Deleted.', schema: 'ScheduleDeleted' } },
      errors: [403, 404],
    },
    {
      method: 'get', path: '/workers', operationId: 'listWorkers', summary: 'Live worker processes', tag: 'monitoring', needsRedis: true,
      responses: { 200: { description: 'Every worker process that heartbeated within 3 intervals, on any machine.', schema: 'WorkerList' } },
    },
    {
      method: 'get', path: '/stats', operationId: 'getStats', summary: 'Aggregate statistics', tag: 'monitoring', needsRedis: true,
      description: 'From counters kept in Redis: the cost never grows with the number of tasks.',
      responses: { 200: { description: 'Statistics.', schema: 'Stats' } },
    },
    {
      method: 'get', path: '/metrics', operationId: 'getMetrics', summary: 'Prometheus metrics', tag: 'monitoring', needsRedis: true,
      responses: { 200: { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
    {
      method: 'get', path: '/health', operationId: 'getHealth', summary: 'Health', tag: 'monitoring', open: true,
      responses: {
        200: { description: 'healthy, or degraded when a required dependency is down.', schema: 'Health' },
        503: { description: 'unhealthy: Redis does not answer.', schema: 'Health' },
      },
    },
    {
      method: 'get', path: '/openapi.json', operationId: 'getOpenApiDocument', summary: 'This document', tag: 'docs', open: true,
      responses: { 200: { description: 'The OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
    {
      method: 'get', path: '/docs', operationId: 'getDocsPage', summary: 'This document as a page', tag: 'docs', open: true,
      responses: { 200: { description: 'An HTML page (Swagger UI, served from this server).', content: { 'text/html': { schema: { type: 'string' } } } } },
    },
  ];
}

function operationObject(op: Operation, config: Config, keysRequired: boolean): Record<string, unknown> {
  const errors = new Set<ErrorStatus>(op.errors);
  if (op.body) [400, 413, 415].forEach((status) => errors.add(status as ErrorStatus));
  if (!op.open && keysRequired) errors.add(401);
  if (!op.open && config.server.rate_limit.enabled) errors.add(429);
  if (op.needsRedis) errors.add(503);
  errors.add(500);
  const responses: Record<string, unknown> = {};
  for (const [status, { description, schema, content }] of Object.entries(op.responses)) {
    const body = content ?? (schema ? { 'application/json': { schema: ref(schema) } } : undefined);
    responses[status] = { description, ...(body ? { content: body } : {}) };
  }
  for (const status of [...errors].sort()) responses[status] ??= { $ref: `#/components/responses/${ERRORS[status].name}` };
  return {
    operationId: op.operationId,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    tags: [op.tag],
    // Open routes need no key; the others take either scheme, or none while the server has no keys.
    security: op.open ? [] : [{ bearerAuth: [] }, { apiKeyHeader: [] }, ...(keysRequired ? [] : [{}])],
    ...(op.parameters ? { parameters: op.parameters } : {}),
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: ref(op.body) } } } } : {}),
    responses,
  };
}

export function buildOpenApiDocument({ config, executors, version, keysRequired }: DocumentOptions): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const op of operations(config)) (paths[op.path] ??= {})[op.method] = operationObject(op, config, keysRequired);
  const types = TASK_TYPES.filter((type) => executors[type]);
  return {
    openapi: '3.1.1',
    info: {
      title: 'TaskEngine API',
      version,
      description:
        'TaskEngine (UFO Galaxy node 02): REST calls become BullMQ jobs run by worker processes; Redis holds the state. ' +
        `Task types on this server: ${types.join(', ') || 'none'}. Every error answers ErrorBody. ` +
        (keysRequired
          ? 'Every route but /health, /openapi.json and /docs needs an API key (Authorization: Bearer <key> or X-API-Key).'
          : 'This server has no API keys configured: every route is open.') +
        (config.dashboard.enabled ? ` The queue dashboard is at ${config.dashboard.path}.` : ''),
    },
    tags: [
      { name: 'tasks', description: 'Create, read, list, cancel, retry and follow tasks.' },
      { name: 'queues', description: "Each task type's queue: counts, workers, rate limit; pause and resume." },
      { name: 'schedules', description: 'Tasks made by the clock: cron or every n seconds.' },
      { name: 'monitoring', description: 'Workers, statistics, metrics and health.' },
      { name: 'docs', description: 'This document.' },
    ],
    paths,
    components: {
      schemas: mergeComponents(requestComponents(config, executors), responseComponents()),
      responses: errorResponses(),
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key as a bearer token.' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key in the X-API-Key header.' },
      },
    },
  };
}
