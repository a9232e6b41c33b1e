// The contract's error body on every route: {"success": false, "error": {code, message, details?}}.
// Body-reading failures become invalid_json / payload_too_large / 415; Redis outages become 503 unavailable;
// anything else is a 500 whose body never carries a stack trace.
import { ApiError, redisRefusal, type ApiErrorCode, type Logger } from '@taskengine/core';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { INVALID_UTF8 } from './json-body.js';

export function sendError(res: Response, error: ApiError): void {
  const body: Record<string, unknown> = { code: error.code, message: error.message };
  if (error.details !== undefined) body.details = error.details;
  res.status(error.status).json({ success: false, error: body });
}

interface BodyParserError {
  type?: string;
  status?: number;
}

/**
 * body-parser's error types (and json-body.ts's own), each with the answer a client can act on.
 * Unsupported charsets and content encodings keep 415, as the OpenAPI document says.
 */
const BODY_ERRORS: Record<string, [status: number, code: ApiErrorCode, message: string]> = {
  'entity.parse.failed': [400, 'invalid_json', 'request body is not valid JSON'],
  'entity.too.large': [413, 'payload_too_large', 'request body is larger than the server accepts (server.body_limit)'],
  'encoding.unsupported': [415, 'validation_error', 'request body encoding is not supported; send UTF-8 JSON (Content-Encoding identity, gzip, deflate or br)'],
  'charset.unsupported': [415, 'validation_error', 'request body encoding is not supported; send UTF-8 JSON'],
  [INVALID_UTF8]: [400, 'invalid_json', 'request body is not valid UTF-8'],
  'request.size.invalid': [400, 'invalid_json', 'request body length does not match its Content-Length'],
  'request.aborted': [400, 'invalid_json', 'request body ended before it was complete'],
};

export function toApiError(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  const parserError = err as BodyParserError;
  const known = parserError?.type === undefined ? undefined : BODY_ERRORS[parserError.type];
  if (known) return new ApiError(...known);
  // The router could not percent-decode a path parameter (e.g. GET /tasks/%E0%A4%A): a bad URL, not a bad body.
  if (err instanceof URIError && parserError.status === 400) {
    return new ApiError(400, 'validation_error', 'the URL path is not valid percent-encoding', [{ path: '(path)', message: 'is not valid percent-encoding' }]);
  }
  if (typeof parserError?.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
    // Other body-reading failures, e.g. a gzip body that does not inflate.
    return new ApiError(400, 'invalid_json', 'request body could not be read');
  }
  const refusal = redisRefusal(err);
  // Full is not down: say so, so an operator makes room instead of looking for a dead Redis. Same
  // code and status, because a client does the same either way: retry later. A full Redis refused
  // the write whole, so nothing was stored.
  if (refusal === 'out_of_memory') {
    return new ApiError(
      503,
      'unavailable',
      'Redis is out of memory (maxmemory reached) and refuses writes; nothing was stored: try again later',
      { reason: 'redis_out_of_memory' },
    );
  }
  if (refusal === 'unreachable') return new ApiError(503, 'unavailable', 'Redis is unreachable; try again shortly');
  return null;
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const known = toApiError(err);
    if (known) {
      if (known.status === 503) {
        const reason = (known.details as { reason?: string } | undefined)?.reason ?? 'redis_unreachable';
        logger.warn('request failed: Redis unavailable', { method: req.method, path: req.path, reason });
      }
      return sendError(res, known);
    }
    logger.error('unhandled error', { method: req.method, path: req.path, error: (err as Error)?.message, stack: (err as Error)?.stack });
    sendError(res, new ApiError(500, 'internal_error', 'internal error'));
  };
}

export const notFound: RequestHandler = (req, res) =>
  sendError(res, new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`));
