// Errors with a stable code. ApiError is what a route answers (CONTRACT section 3's error body);
// TaskError is what an executor throws to end an attempt (its code becomes the task's error_code).
import type { ApiErrorCode, ErrorDetail } from './contracts/responses.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    /** One of the codes the OpenAPI document lists (contracts/responses.ts); add a new one there. */
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const validationError = (details: ErrorDetail[], message?: string): ApiError =>
  new ApiError(400, 'validation_error', message ?? details.map((d) => `${d.path}: ${d.message}`).join('; '), details);

export const taskNotFound = (id: string): ApiError => new ApiError(404, 'task_not_found', `task ${id} not found`);

export const unavailable = (what = 'Redis is unreachable'): ApiError => new ApiError(503, 'unavailable', what);

export interface TaskErrorOptions {
  /** Retry while attempts remain (default true). Bad input, policy refusals and HTTP 4xx are not retryable. */
  retryable?: boolean;
  /** A result worth keeping on the failed task (e.g. a command's output). */
  result?: unknown;
  /** Wait at least this long before the retry (e.g. from Retry-After). */
  retryAfterMs?: number;
}

export class TaskError extends Error {
  override readonly name = 'TaskError';
  readonly retryable: boolean;
  readonly result?: unknown;
  readonly retryAfterMs?: number;
  constructor(
    readonly code: string,
    message: string,
    options: TaskErrorOptions = {},
  ) {
    super(message);
    this.retryable = options.retryable ?? true;
    this.result = options.result;
    this.retryAfterMs = options.retryAfterMs;
  }
}
