// What the client throws. An answer from the API that is an error is a TaskEngineApiError carrying the
// contract's error body; a request that got no answer is a TaskEngineNetworkError that says where it went
// and why; a waitFor that ran out of time is a TaskEngineWaitTimeoutError holding the last state seen.
import type { ApiErrorBody, ErrorDetail, TaskObject } from './types.js';

export class TaskEngineApiError extends Error {
  override readonly name = 'TaskEngineApiError';
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** The contract's stable code (`validation_error`, `task_not_found`, …), or `http_<status>` for a body that is not the contract's. */
    readonly code: string,
    message: string,
    /** For `validation_error`: one `{path, message}` per problem; for `task_not_cancellable`: `{status}`. */
    readonly details?: unknown,
    /** Seconds from `Retry-After` (429, 503), when the server sent one. */
    readonly retryAfterSeconds?: number,
    /** The whole answer, parsed when it was JSON. */
    readonly body?: unknown,
  ) {
    super(message);
  }

  /** `details` as validation problems, or an empty list when they are something else. */
  get problems(): ErrorDetail[] {
    if (!Array.isArray(this.details)) return [];
    return this.details.filter(
      (d): d is ErrorDetail => typeof d === 'object' && d !== null && typeof d.path === 'string' && typeof d.message === 'string',
    );
  }

  /** Builds the error from a response whose status is not one the caller accepts. */
  static fromResponse(status: number, statusText: string, body: unknown, retryAfter: string | null): TaskEngineApiError {
    const seconds = retryAfter !== null && /^\d+(\.\d+)?$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
    const error = (body as Partial<ApiErrorBody> | null)?.error;
    if (error && typeof error.code === 'string' && typeof error.message === 'string') {
      return new TaskEngineApiError(status, error.code, error.message, error.details, seconds, body);
    }
    const text = typeof body === 'string' ? body.trim().slice(0, 200) : '';
    return new TaskEngineApiError(status, `http_${status}`, `HTTP ${status} ${statusText}${text ? `: ${text}` : ''}`.trim(), undefined, seconds, body);
  }
}

export class TaskEngineNetworkError extends Error {
  override readonly name = 'TaskEngineNetworkError';
  constructor(
    readonly url: string,
    /** What went wrong, e.g. `ECONNREFUSED`, `ENOTFOUND`, or `timeout` when the request ran past `timeoutMs`. */
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class TaskEngineWaitTimeoutError extends Error {
  override readonly name = 'TaskEngineWaitTimeoutError';
  constructor(
    readonly taskId: string,
    readonly timeoutMs: number,
    /** The last state seen, when any request succeeded. */
    readonly lastTask: TaskObject | undefined,
  ) {
    super(`gave up waiting for task ${taskId} after ${timeoutMs / 1000}s${lastTask ? ` (it is ${lastTask.status})` : ''}`);
  }
}

/** The reason a fetch failed, from the error undici throws (`TypeError: fetch failed` with a cause). */
export function networkReason(err: unknown): string {
  let cause: unknown = err;
  for (let depth = 0; depth < 4 && cause; depth++) {
    const { code, errors } = cause as { code?: unknown; errors?: unknown[] };
    if (typeof code === 'string') return code;
    // An AggregateError (e.g. both IPv4 and IPv6 refused) carries the codes in errors[].
    const first = Array.isArray(errors) ? (errors[0] as { code?: unknown } | undefined) : undefined;
    if (typeof first?.code === 'string') return first.code;
    cause = (cause as { cause?: unknown }).cause;
  }
  return err instanceof Error ? err.message : String(err);
}

/** A failure worth trying again: no answer, or the API said it is overloaded or cannot reach Redis. */
export function isTransient(err: unknown): boolean {
  return err instanceof TaskEngineNetworkError || (err instanceof TaskEngineApiError && (err.status === 429 || err.status === 503));
}
