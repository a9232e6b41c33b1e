// How the API reads a request body: JSON (Content-Type: application/json) up to server.body_limit,
// in valid UTF-8, nested at most MAX_BODY_DEPTH levels, with no `__proto__` key. Every refusal is a
// 4xx with the contract's error body (errors.ts maps the parser's own errors).
import { isUtf8 } from 'node:buffer';
import { formatPath, validationError, type Config } from '@taskengine/core';
import express, { type RequestHandler } from 'express';

/**
 * How deeply a body may nest (the body itself is level 1). JSON.parse copes with any depth, but what
 * runs next is recursive (zod refinements, canonicalJson, BullMQ's JSON.stringify of the job): a body
 * ~10,000 levels deep overflowed the stack there, a 500 for every request grouped into the same write.
 */
export const MAX_BODY_DEPTH = 100;

/** An error body-parser passes on with this type (see toApiError). */
export const INVALID_UTF8 = 'entity.invalid.utf8';

/**
 * body-parser decodes invalid UTF-8 to U+FFFD without a word, so a client's bytes would be stored
 * altered; they are refused instead. Other charsets (UTF-16/32) are left to body-parser's decoder.
 */
function verifyUtf8(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  if (encoding === 'utf-8' && !isUtf8(body)) {
    throw Object.assign(new Error('request body is not valid UTF-8'), { type: INVALID_UTF8 });
  }
}

/** An object or array met while walking a body, with how to name where it is. */
interface Visit {
  value: object;
  depth: number;
  parent: Visit | null;
  key: string | number;
}

function pathOf(visit: Visit, lastKey?: string): string {
  const parts: Array<string | number> = lastKey === undefined ? [] : [lastKey];
  for (let at: Visit | null = visit; at?.parent; at = at.parent) parts.unshift(at.key);
  return formatPath(parts);
}

/**
 * The first thing in a parsed body that must be refused: a level past MAX_BODY_DEPTH, or a `__proto__`
 * key. JSON.parse makes `__proto__` an ordinary own key, but zod drops it from records without a word
 * (metadata and payloads lost it) and any code that copies the object by assignment would set a
 * prototype with it; refusing it keeps stored data exactly what was sent. Iterative, so no depth can
 * overflow the stack here; only objects and arrays are visited, so a large flat body costs little.
 */
export function bodyShapeProblem(body: unknown): { path: string; message: string } | null {
  if (body === null || typeof body !== 'object') return null;
  const stack: Visit[] = [{ value: body, depth: 1, parent: null, key: '' }];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    if (visit.depth > MAX_BODY_DEPTH) return { path: pathOf(visit), message: `nests deeper than ${MAX_BODY_DEPTH} levels` };
    const enter = (inner: unknown, key: string | number): void => {
      if (inner !== null && typeof inner === 'object') stack.push({ value: inner, depth: visit.depth + 1, parent: visit, key });
    };
    if (Array.isArray(visit.value)) {
      visit.value.forEach(enter);
      continue;
    }
    for (const [key, inner] of Object.entries(visit.value)) {
      if (key === '__proto__') return { path: pathOf(visit, key), message: 'is not allowed as a key (JavaScript reserves it for the prototype)' };
      enter(inner, key);
    }
  }
  return null;
}

/** The body parser and the shape check after it, in the order app.ts mounts them. */
export function jsonBody(config: Config): RequestHandler[] {
  const parse = express.json({ limit: config.server.body_limit, strict: true, type: 'application/json', verify: verifyUtf8 });
  const checkShape: RequestHandler = (req, _res, next) => {
    const problem = req.body === undefined ? null : bodyShapeProblem(req.body);
    next(problem ? validationError([problem]) : undefined);
  };
  return [parse, checkShape];
}
