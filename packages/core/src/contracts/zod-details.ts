// Turns zod issues into the contract's validation details: one {path, message} per problem, with
// paths like `tasks[3].config.timeout_seconds`, and one entry per unknown field that names it. A payload
// schema may tag an issue with `params: { error_code }` so that the same refusal, met again by the worker
// at run time (its config may differ from the API's), fails the task with that code.
import type { z } from 'zod';
import type { ErrorDetail } from './responses.js';

/**
 * A client's value quoted in an error message, cut to `max` characters: a 300,000-character handler
 * name came back twice (message and details), a 600 KB answer to one bad field.
 */
export function quoteInput(value: string, max = 100): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}

export function formatPath(path: ReadonlyArray<PropertyKey>, prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out = `${out.replace(/\.$/, '')}[${part}]`;
    else out = `${out}${out && !out.endsWith('.') ? '.' : ''}${String(part)}`;
  }
  return out.replace(/\.$/, '') || '(body)';
}

export function zodDetails(error: z.ZodError, prefix = ''): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) details.push({ path: formatPath([...issue.path, key], prefix), message: 'unknown field' });
    } else {
      details.push({ path: formatPath(issue.path, prefix), message: issue.message });
    }
  }
  return details;
}

/** The error_code of a payload refused at run time: the first issue's `params.error_code`, else `invalid_payload`. */
export function payloadErrorCode(error: z.ZodError): string {
  for (const issue of error.issues) {
    const code = (issue as { params?: { error_code?: unknown } }).params?.error_code;
    if (typeof code === 'string') return code;
  }
  return 'invalid_payload';
}
