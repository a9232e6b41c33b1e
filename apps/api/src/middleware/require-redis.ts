// Answers 503 at once while the Redis connection is down, instead of letting a request wait on it.
import { ApiError, type RedisClient } from '@taskengine/core';
import type { RequestHandler } from 'express';

export function requireRedis(redis: RedisClient): RequestHandler {
  return (_req, _res, next) => {
    if (redis.status !== 'ready') return next(new ApiError(503, 'unavailable', 'Redis is unreachable; try again shortly'));
    next();
  };
}
