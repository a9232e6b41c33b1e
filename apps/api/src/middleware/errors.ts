// The contract's error body on every route: {"success": false, "error": {code, message, details?}}.
// Body-parser failures become invalid_json / payload_too_large; Redis outages become 503 unavailable;
// anything else is a 500 whose body never carries a stack trace.
import { ApiError, redisRefusal, type Logger } from '@taskengine/core';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';

export function sendError(res: Response, error: ApiError): void {
  const body: Record<string, unknown> = { code: error.code, message: error.message };
  if (error.details !== undefined) body.details = error.details;
  res.status(error.status).json({ success: false, error: body });
}

interface BodyParserError {
  type?: string;
  status?: number;
}

export function toApiError(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  const parserError = err as BodyParserError;
  if (parserError?.type === 'entity.parse.failed') return new ApiError(400, 'invalid_json', 'request body is not valid JSON');
  if (parserError?.type === 'entity.too.large') return new ApiError(413, 'payload_too_large', 'request body is larger than the server accepts (server.body_limit)');
  if (parserError?.type === 'encoding.unsupported' || parserError?.type === 'charset.unsupported') {
    return new ApiError(415, 'validation_error', 'request body encoding is not supported; send UTF-8 JSON');
  }
  if (typeof parserError?.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
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
