// Answers 503 at once while the Redis connection is down, instead of letting a request wait on it.
import { ApiError } from '@taskengine/core';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';

export function requireRedis(redis: Redis): RequestHandler {
  return (_req, _res, next) => {
    if (redis.status !== 'ready') return next(new ApiError(503, 'unavailable', 'Redis is unreachable; try again shortly'));
    next();
  };
}
