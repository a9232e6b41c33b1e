// What every refusal must look like to a client (CONTRACT section 3): the status, JSON, and the body
// {"success": false, "error": {code, message, details?}} with a code the contract lists and a message
// that is a sentence, not a stack trace. Throws a message that shows the request, for fast-check to report.
import { API_ERROR_CODES } from '@taskengine/core';
import type { RawResponse } from './raw-http.js';

export interface Expected {
  status: number | number[];
  code?: string | string[];
  /** A validation detail must name this path (or one below it: `path.x`, `path[0]`). */
  path?: string;
}

const oneOf = <T>(value: T, allowed: T | T[]): boolean => (Array.isArray(allowed) ? allowed.includes(value) : value === allowed);

export const describeResponse = (res: RawResponse): string => `${res.status} ${res.text.slice(0, 400)}`;

/** The error body's shape, whatever the status. */
export function errorBodyProblem(res: RawResponse): string | null {
  if (!/^application\/json/.test(res.headers['content-type'] ?? '')) return `content-type ${res.headers['content-type']}`;
  const body = res.body as { success?: unknown; error?: { code?: unknown; message?: unknown; details?: unknown } };
  if (typeof body !== 'object' || body === null || body.success !== false) return 'no {success: false}';
  const { code, message, details } = body.error ?? {};
  if (!(API_ERROR_CODES as readonly unknown[]).includes(code)) return `code ${String(code)} is not the contract's`;
  if (typeof message !== 'string' || message.length === 0) return 'no message';
  if (/\n\s+at /.test(message) || /\.(ts|js):\d+/.test(res.text)) return 'a stack trace in the body';
  if (code === 'validation_error' && details !== undefined && !Array.isArray(details)) return 'validation details not a list';
  return null;
}

export function checkError(res: RawResponse, expected: Expected, request: string): void {
  const fail = (why: string): never => {
    throw new Error(`${request}\n  → ${describeResponse(res)}\n  ${why}`);
  };
  if (!oneOf(res.status, expected.status)) fail(`status ${res.status}, expected ${JSON.stringify(expected.status)}`);
  const shape = errorBodyProblem(res);
  if (shape) fail(`error body: ${shape}`);
  if (expected.code !== undefined && !oneOf(res.body.error.code, expected.code)) fail(`code ${res.body.error.code}, expected ${JSON.stringify(expected.code)}`);
  if (expected.path !== undefined) {
    const path = expected.path;
    const paths: string[] = (res.body.error.details ?? []).map((d: { path: string }) => d.path);
    if (!paths.some((p) => p === path || p.startsWith(`${path}.`) || p.startsWith(`${path}[`))) fail(`details ${JSON.stringify(paths)} do not name ${path}`);
  }
}

/** Any answer but a 5xx; a 4xx must carry the error body. */
export function checkNoServerError(res: RawResponse, request: string): void {
  if (res.status >= 500) throw new Error(`${request}\n  → ${describeResponse(res)}\n  a 5xx`);
  if (res.status >= 400) {
    const shape = errorBodyProblem(res);
    if (shape) throw new Error(`${request}\n  → ${describeResponse(res)}\n  error body: ${shape}`);
  }
}
