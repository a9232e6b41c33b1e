// TaskEngineClient: one typed method per REST endpoint (CONTRACT section 3), plus waitFor, which follows a
// task to its final status. Every request goes through one place that adds the key, applies the timeout,
// maps error bodies to TaskEngineApiError and retries what is safe to retry (reads, and creates that carry
// an id, so a lost answer cannot create a task twice).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isFinal } from '@taskengine/core/model/status';
import { isTransient, networkReason, TaskEngineApiError, TaskEngineNetworkError, TaskEngineWaitTimeoutError } from './errors.js';
import type {
  CancelTaskResponse,
  CreateBatchResponse,
  CreateScheduleResponse,
  CreateTaskResponse,
  DeleteScheduleResponse,
  EventsResyncEvent,
  HealthResponse,
  ListTasksQuery,
  QueuePauseResponse,
  QueuesResponse,
  RetryTaskResponse,
  RetryTasksQuery,
  RetryTasksResponse,
  ScheduleCreate,
  ScheduleListResponse,
  ScheduleObject,
  StatsResponse,
  TaskCreate,
  TaskListResponse,
  TaskLogsResponse,
  TaskObject,
  TaskStreamEvent,
  TaskType,
  WorkersResponse,
} from './types.js';
import type { FetchLike, FetchResponse } from './transport.js';
import { CLIENT_VERSION } from './version.js';
import { parseEventStream } from './sse.js';
import { eventStreamWatcher, type TaskWatcher, type WatchOptions } from './watch.js';

export const DEFAULT_URL = 'http://localhost:8002';

export interface TaskEngineClientOptions {
  /** Base URL of the API, e.g. `http://localhost:8002` (a path prefix behind a proxy is kept). */
  url: string;
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** A fetch to use instead of the global one (tests, proxies, instrumentation; httpFetch for node:http). */
  fetch?: FetchLike;
  /** Limit for one request, answer body included. @defaultValue 30000 */
  timeoutMs?: number;
  /** Retries of a safe request after a network error, 429 or 503 (honouring `Retry-After` up to 30 s). @defaultValue 2 */
  retries?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface CreateTaskOptions extends CallOptions {
  /**
   * Give a task without `id` one made here (a UUID v4), which makes the request idempotent: it can be
   * retried after a lost answer and the server answers with the task already created.
   * @defaultValue true
   */
  clientId?: boolean;
}

export interface CreateBatchOptions extends CallOptions {
  /**
   * false: run the batch as a chain, each task depending on the one before it (a failure cancels the
   * rest with error_code `dependency_failed`).
   * @defaultValue true
   */
  parallel?: boolean;
  /** At most this many of the batch's tasks run at once, across all workers; the rest wait `pending`. */
  maxConcurrency?: number;
}

export interface WaitOptions extends WatchOptions {
  /** Give up after this long with a TaskEngineWaitTimeoutError (the task itself keeps going). */
  timeoutMs?: number;
  /** Called with the first state seen and with every change of status, progress or attempt. */
  onProgress?: (task: TaskObject) => void;
}

export interface StreamOptions extends CallOptions {
  /**
   * Give up with a TaskEngineNetworkError when nothing arrives for this long, not even the server's
   * heartbeat (server.events.heartbeat_seconds, default 15): the connection is dead without saying so.
   * @defaultValue 60000
   */
  idleTimeoutMs?: number;
  /**
   * `GET /events` only: resume after the event with this `id` (the last one received), getting the
   * events written since; an `events_missed` resync event says when some could not be had.
   */
  lastEventId?: string;
}

interface RequestOptions extends CallOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** Retry network errors, 429 and 503; only for requests that cannot do a thing twice. */
  retry?: boolean;
}

const MAX_RETRY_AFTER_SECONDS = 30;

const commaList = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(',') : value;

export class TaskEngineClient {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly watcher: TaskWatcher;

  constructor(options: TaskEngineClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError(`not a URL: "${options.url}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`not an http(s) URL: "${options.url}"`);
    this.baseUrl = url.href.replace(/\/+$/, '');
    this.apiKey = options.apiKey || undefined;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 2;
    this.watcher = eventStreamWatcher(
      (id, signal) => this.taskEvents(id, { signal }),
      (id, signal) => this.getTask(id, { signal }),
    );
  }

  /** `POST /tasks`. 201 creates; 200 is a repeat of the same id and body, answered with the existing task. */
  createTask(body: TaskCreate, options: CreateTaskOptions = {}): Promise<CreateTaskResponse> {
    const withId = body.id === undefined && options.clientId !== false ? { ...body, id: randomUUID() } : body;
    return this.request('POST', '/tasks', { body: withId, signal: options.signal, retry: withId.id !== undefined });
  }

  /**
   * `POST /tasks/batch` (1 to the server's `tasks.max_batch_size`, default 1000): all or nothing. Retried
   * only when every task carries an id, so a repeat answers with the same tasks. A task may name tasks
   * earlier in the batch in `config.dependencies` (by their ids).
   */
  createBatch(tasks: TaskCreate[], options: CreateBatchOptions = {}): Promise<CreateBatchResponse> {
    const retry = tasks.every((task) => task.id !== undefined);
    const body = {
      tasks,
      ...(options.parallel !== undefined ? { parallel: options.parallel } : {}),
      ...(options.maxConcurrency !== undefined ? { max_concurrency: options.maxConcurrency } : {}),
    };
    return this.request('POST', '/tasks/batch', { body, signal: options.signal, retry });
  }

  /** `GET /tasks/{id}`; a TaskEngineApiError 404 `task_not_found` for an unknown id. */
  getTask(id: string, options: CallOptions = {}): Promise<TaskObject> {
    return this.request('GET', `/tasks/${encodeURIComponent(id)}`, { signal: options.signal, retry: true });
  }

  /** `GET /tasks`: one page, newest first. Follow `next_cursor`, or use iterateTasks / listTaskPages. */
  listTasks(query: ListTasksQuery = {}, options: CallOptions = {}): Promise<TaskListResponse> {
    return this.request('GET', '/tasks', {
      query: { status: commaList(query.status), task_type: commaList(query.type), limit: query.limit, cursor: query.cursor },
      signal: options.signal,
      retry: true,
    });
  }

  /** Every page from `query.cursor` (or the first) until `next_cursor` is null; a page may hold fewer than `limit`. */
  async *listTaskPages(query: ListTasksQuery = {}, options: CallOptions = {}): AsyncGenerator<TaskListResponse> {
    let cursor = query.cursor;
    do {
      const page = await this.listTasks({ ...query, cursor }, options);
      yield page;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  /** Every matching task, each once, newest first: `for await (const task of client.iterateTasks({status: 'failed'}))`. */
  async *iterateTasks(query: ListTasksQuery = {}, options: CallOptions = {}): AsyncGenerator<TaskObject> {
    for await (const page of this.listTaskPages(query, options)) yield* page.tasks;
  }

  /** `POST /tasks/{id}/cancel`: `cancelled` (200), or `running` with `cancel_requested` (202); 409 when already final. */
  cancelTask(id: string, options: CallOptions = {}): Promise<CancelTaskResponse> {
    return this.request('POST', `/tasks/${encodeURIComponent(id)}/cancel`, { signal: options.signal });
  }

  /**
   * `POST /tasks/{id}/retry`: a failed, timed-out or cancelled task goes back into its queue (same id,
   * fresh retry budget); any other status is a TaskEngineApiError 409 `conflict` with `details.status`.
   */
  retryTask(id: string, options: CallOptions = {}): Promise<RetryTaskResponse> {
    return this.request('POST', `/tasks/${encodeURIComponent(id)}/retry`, { signal: options.signal });
  }

  /** `POST /tasks/retry`: retries up to `limit` tasks matching the filters (status default `failed`). */
  retryTasks(query: RetryTasksQuery = {}, options: CallOptions = {}): Promise<RetryTasksResponse> {
    return this.request('POST', '/tasks/retry', {
      query: { status: commaList(query.status), task_type: commaList(query.type), limit: query.limit },
      signal: options.signal,
    });
  }

  /** `GET /queues`: each task type's queue with its paused state, counts, workers and rate limit. */
  queues(options: CallOptions = {}): Promise<QueuesResponse> {
    return this.request('GET', '/queues', { signal: options.signal, retry: true });
  }

  /** `POST /queues/{type}/pause`: no task of the type starts on any worker until resumed. Safe to repeat. */
  pauseQueue(type: TaskType, options: CallOptions = {}): Promise<QueuePauseResponse> {
    return this.request('POST', `/queues/${encodeURIComponent(type)}/pause`, { signal: options.signal, retry: true });
  }

  /** `POST /queues/{type}/resume`. Safe to repeat. */
  resumeQueue(type: TaskType, options: CallOptions = {}): Promise<QueuePauseResponse> {
    return this.request('POST', `/queues/${encodeURIComponent(type)}/resume`, { signal: options.signal, retry: true });
  }

  /**
   * `POST /schedules`: `task` is a POST /tasks body (without id, scheduled_at or delay_seconds), with
   * `cron` (and `timezone`) or `every_seconds`. Not retried: a lost answer cannot be told from a refusal,
   * and a second schedule would run every task twice.
   */
  createSchedule(body: ScheduleCreate, options: CallOptions = {}): Promise<CreateScheduleResponse> {
    return this.request('POST', '/schedules', { body, signal: options.signal });
  }

  /** `GET /schedules`: every schedule (of the key's task types), newest first. */
  listSchedules(options: CallOptions = {}): Promise<ScheduleListResponse> {
    return this.request('GET', '/schedules', { signal: options.signal, retry: true });
  }

  /** `GET /schedules/{id}`; a TaskEngineApiError 404 `not_found` for an unknown id. */
  getSchedule(id: string, options: CallOptions = {}): Promise<ScheduleObject> {
    return this.request('GET', `/schedules/${encodeURIComponent(id)}`, { signal: options.signal, retry: true });
  }

  /** `DELETE /schedules/{id}`: no run is made after it answers. Not retried (a repeat would answer 404). */
  deleteSchedule(id: string, options: CallOptions = {}): Promise<DeleteScheduleResponse> {
    return this.request('DELETE', `/schedules/${encodeURIComponent(id)}`, { signal: options.signal });
  }

  /** `GET /stats`. */
  stats(options: CallOptions = {}): Promise<StatsResponse> {
    return this.request('GET', '/stats', { signal: options.signal, retry: true });
  }

  /** `GET /workers`. */
  workers(options: CallOptions = {}): Promise<WorkersResponse> {
    return this.request('GET', '/workers', { signal: options.signal, retry: true });
  }

  /** `GET /health`. An unhealthy engine answers 503 with the same document, which is returned, not thrown. */
  async health(options: CallOptions = {}): Promise<HealthResponse> {
    try {
      return await this.request<HealthResponse>('GET', '/health', { signal: options.signal });
    } catch (err) {
      const body = err instanceof TaskEngineApiError ? (err.body as Partial<HealthResponse> | undefined) : undefined;
      if (err instanceof TaskEngineApiError && err.status === 503 && body?.status === 'unhealthy') return body as HealthResponse;
      throw err;
    }
  }

  /** `GET /tasks/{id}/logs`: the lines the task's executor logged, oldest first, across its attempts. */
  getTaskLogs(id: string, options: CallOptions = {}): Promise<TaskLogsResponse> {
    return this.request('GET', `/tasks/${encodeURIComponent(id)}/logs`, { signal: options.signal, retry: true });
  }

  /**
   * `GET /tasks/{id}/events`: the task's current state (a `status` event), then each change (`status`,
   * `progress`) until a final status, where it ends. Throws a TaskEngineApiError for an error answer
   * (404 for an unknown task) and a TaskEngineNetworkError when the stream cannot be read, or when
   * nothing, not even a heartbeat, arrives for `idleTimeoutMs`; stop it with `signal` or by leaving the loop.
   */
  taskEvents(id: string, options: Omit<StreamOptions, 'lastEventId'> = {}): AsyncGenerator<TaskStreamEvent> {
    return this.stream(`/tasks/${encodeURIComponent(id)}/events`, {}, options) as AsyncGenerator<TaskStreamEvent>;
  }

  /**
   * `GET /events`: every task's `status` and `progress` events, of the given types (all when absent), until
   * stopped. Pass the last event's `id` as `lastEventId` to resume after a break; a `resync` event then
   * names the types whose missed events are gone (read those tasks again).
   */
  events(query: { type?: TaskType | TaskType[] } = {}, options: StreamOptions = {}): AsyncGenerator<TaskStreamEvent | EventsResyncEvent> {
    return this.stream('/events', { type: commaList(query.type) }, options);
  }

  /** Each state of the task until it ends (see TaskWatcher): the first one, then every change. */
  watchTask(id: string, options: WatchOptions = {}): AsyncIterable<TaskObject> {
    return this.watcher(id, options);
  }

  /**
   * Follows the task until `completed`, `failed`, `cancelled` or `timeout` and returns it. A failed task
   * is a result, not an error: read its `status`. Throws TaskEngineWaitTimeoutError after `timeoutMs`.
   */
  async waitFor(id: string, options: WaitOptions = {}): Promise<TaskObject> {
    const { timeoutMs, onProgress, signal, ...watchOptions } = options;
    const gaveUp = new AbortController();
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => gaveUp.abort(), timeoutMs);
    let last: TaskObject | undefined;
    try {
      const watchSignal = signal ? AbortSignal.any([signal, gaveUp.signal]) : gaveUp.signal;
      for await (const task of this.watchTask(id, { ...watchOptions, signal: watchSignal })) {
        last = task;
        onProgress?.(task);
        if (isFinal(task.status)) return task;
      }
      throw new Error(`the watch of task ${id} ended before a final status`);
    } catch (err) {
      if (gaveUp.signal.aborted && !signal?.aborted) throw new TaskEngineWaitTimeoutError(id, timeoutMs!, last);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send<T>(method, path, options);
      } catch (err) {
        const delay = options.retry && attempt < this.retries ? retryDelayMs(err, attempt) : undefined;
        if (delay === undefined) throw err;
        await sleep(delay, undefined, { signal: options.signal });
      }
    }
  }

  /** An event stream's events, parsed as they arrive; see taskEvents. */
  private async *stream(
    path: string,
    query: RequestOptions['query'],
    { signal, idleTimeoutMs = 60_000, lastEventId }: StreamOptions,
  ): AsyncGenerator<TaskStreamEvent | EventsResyncEvent> {
    const url = this.url(path, query);
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let idle = false;
    let timer: NodeJS.Timeout | undefined;
    // Bounds the wait for the answer's headers (timeoutMs), then each wait for the next bytes.
    const watchdog = (ms: number): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        stop.abort();
      }, ms);
    };
    try {
      if (signal?.aborted) throw signal.reason;
      watchdog(this.timeoutMs);
      let response: FetchResponse;
      try {
        const headers = { ...this.headers('text/event-stream'), ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}) };
        response = await this.fetchImpl(url, { method: 'GET', headers, signal: stop.signal, stream: true });
        if (!response.ok) {
          const text = await response.text();
          throw TaskEngineApiError.fromResponse(response.status, response.statusText, parseBody(text), response.headers.get('retry-after'));
        }
      } catch (err) {
        throw err instanceof TaskEngineApiError ? err : this.noAnswer(err, 'GET', url, path, signal, idle);
      }
      watchdog(idleTimeoutMs);
      const chunks = eachChunk(response.body ?? wholeBody(response), () => watchdog(idleTimeoutMs));
      try {
        for await (const event of parseEventStream(chunks)) {
          if (event.event !== 'status' && event.event !== 'progress' && event.event !== 'resync') continue;
          yield { event: event.event, id: event.id, data: JSON.parse(event.data) } as TaskStreamEvent | EventsResyncEvent;
        }
      } catch (err) {
        if (!idle) throw this.noAnswer(err, 'GET', url, path, signal, false);
        throw new TaskEngineNetworkError(url, 'timeout', `GET ${url}: nothing for ${idleTimeoutMs / 1000}s, not even a heartbeat`, { cause: err });
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      stop.abort();
    }
  }

  private url(path: string, query: RequestOptions['query']): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(key, String(value));
    return `${this.baseUrl}${path}${params.size ? `?${params}` : ''}`;
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { accept, 'user-agent': `taskengine-client/${CLIENT_VERSION}` };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    return headers;
  }

  /** What a request that got no (whole) answer throws: the caller's abort, a timeout, or where and why it failed. */
  private noAnswer(err: unknown, method: string, url: string, path: string, signal: AbortSignal | undefined, timedOut: boolean): unknown {
    if (signal?.aborted) return signal.reason ?? err;
    if (timedOut) return new TaskEngineNetworkError(url, 'timeout', `${method} ${url}: no answer within ${this.timeoutMs / 1000}s`, { cause: err });
    const reason = networkReason(err);
    return new TaskEngineNetworkError(url, reason, `cannot reach TaskEngine at ${this.baseUrl} (${method} ${path}): ${reason}`, { cause: err });
  }

  private async send<T>(method: string, path: string, { body, query, signal }: RequestOptions): Promise<T> {
    const url = this.url(path, query);
    const headers = this.headers('application/json');
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let response: FetchResponse;
    let text: string;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await response.text();
    } catch (err) {
      throw this.noAnswer(err, method, url, path, signal, timeout.aborted);
    }
    const parsed = parseBody(text);
    if (!response.ok) {
      throw TaskEngineApiError.fromResponse(response.status, response.statusText, parsed, response.headers.get('retry-after'));
    }
    if (typeof parsed !== 'object' || parsed === null) {
      throw new TaskEngineApiError(response.status, 'invalid_response', `${method} ${path} answered ${response.status} without a JSON body`, undefined, undefined, parsed);
    }
    return parsed as T;
  }
}

/** The chunks of a body, telling `onChunk` about each. */
async function* eachChunk(body: AsyncIterable<Uint8Array>, onChunk: () => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) {
    onChunk();
    yield chunk;
  }
}

/** The body of a fetch that cannot stream, as one chunk once it has all arrived. */
async function* wholeBody(response: FetchResponse): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(await response.text());
}

/** A body as JSON, or as its text when it is not JSON (a proxy's error page, kept for the error message). */
function parseBody(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** How long to wait before retrying a failed request, or undefined when it must not be retried. */
function retryDelayMs(err: unknown, attempt: number): number | undefined {
  if (!isTransient(err)) return undefined;
  const retryAfter = err instanceof TaskEngineApiError ? err.retryAfterSeconds : undefined;
  if (retryAfter === undefined) return 200 * 2 ** attempt;
  return retryAfter <= MAX_RETRY_AFTER_SECONDS ? retryAfter * 1000 : undefined;
}
