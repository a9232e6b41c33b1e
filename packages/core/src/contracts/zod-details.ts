// Turns zod issues into the contract's validation details: one {path, message} per problem, with
// paths like `tasks[3].config.timeout_seconds`, and one entry per unknown field that names it.
import type { z } from 'zod';
import type { ErrorDetail } from './responses.js';

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
