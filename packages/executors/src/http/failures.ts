// How an HTTP exchange that went wrong ends a task attempt, the same way for network_request and
// ai_inference (CONTRACT section 4): 429, 5xx and network failures are retried (Retry-After honoured
// through retryAfterMs); other 4xx, refused addresses and bad redirects fail at once. Messages name the
// target by origin only: paths and queries can carry tokens, userinfo carries passwords.
import type { IncomingHttpHeaders } from 'node:http';
import { TaskError } from '@taskengine/core';
import { BlockedAddressError } from '../guards/address-filter.js';
import { parseRetryAfter } from './retry-after.js';

/** `https://host:port` of a URL: what error messages may show of it. */
export function origin(url: string | URL): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

export const retryableStatus = (status: number): boolean => status === 429 || status >= 500;

/** A status the caller did not accept. `result` is kept on the task (e.g. the response it got). */
export function statusFailure(
  code: string,
  message: string,
  response: { statusCode: number; headers: IncomingHttpHeaders },
  result?: unknown,
): TaskError {
  const retryable = retryableStatus(response.statusCode);
  return new TaskError(code, message, {
    retryable,
    result,
    retryAfterMs: retryable ? parseRetryAfter(response.headers['retry-after']) : undefined,
  });
}

/** request-filtering-agent's own refusal (our check runs first, so this is the second line only). */
const LIBRARY_REFUSAL = /is not allowed\. Because/;

/** Maps an error thrown by got (or the guarded agents beneath it) to the attempt's TaskError. */
export function transportFailure(err: unknown, target: string): TaskError {
  const error = err as { code?: string; name?: string; message?: string; cause?: unknown };
  const cause = error?.cause;
  if (cause instanceof BlockedAddressError) return new TaskError('blocked_address', `refused: ${cause.message}`, { retryable: false });
  if (error?.code === 'ERR_BLOCKED_ADDRESS' || LIBRARY_REFUSAL.test(error?.message ?? '')) {
    return new TaskError('blocked_address', `refused: ${target} is not a public address`, { retryable: false });
  }
  switch (error?.name === 'TimeoutError' ? 'ETIMEDOUT' : error?.code) {
    case 'ETIMEDOUT':
      return new TaskError('request_timeout', `${target} did not answer in time (${error.message ?? 'timeout'})`);
    case 'ERR_TOO_MANY_REDIRECTS':
      return new TaskError('too_many_redirects', `${target}: more redirects than allowed`, { retryable: false });
    case 'ERR_UNSUPPORTED_PROTOCOL':
      return new TaskError('unsupported_redirect', `${target} redirected to a scheme other than http or https`, { retryable: false });
    default:
      return new TaskError('network_error', `${target}: ${error?.message ?? String(err)}`);
  }
}
