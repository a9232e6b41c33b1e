// Rate limiting shared by every API replica (CONTRACT section 6): express-rate-limit counting in
// Redis, per API key (per client address when the API is open). Over the limit: 429 `rate_limited`
// with Retry-After. While Redis is away the limiter lets requests through; the Redis guard behind it
// answers 503 for them anyway.
import { ApiError, type Config, type RedisClient } from '@taskengine/core';
import { rateLimit, ipKeyGenerator } from 'express-rate-limit';
import type { RequestHandler } from 'express';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { ANONYMOUS } from '../auth/api-keys.js';
import { principalOf } from './authenticate.js';

export function rateLimiter(config: Config, redis: RedisClient): RequestHandler {
  const { window_seconds: windowSeconds, max } = config.server.rate_limit;
  return rateLimit({
    windowMs: windowSeconds * 1000,
    limit: max,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    passOnStoreError: true,
    keyGenerator: (req, res) => {
      const principal = principalOf(res);
      return principal === ANONYMOUS ? `ip:${ipKeyGenerator(req.ip ?? '')}` : `key:${principal.name}`;
    },
    store: new RedisStore({
      prefix: `${config.redis.prefix}:ratelimit:`,
      sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply>,
    }),
    handler: (_req, res, next, options) => {
      // express-rate-limit has set Retry-After (seconds until the window resets) already.
      next(new ApiError(options.statusCode, 'rate_limited', `too many requests: at most ${max} per ${windowSeconds} s`, { retry_after_seconds: Number(res.get('Retry-After')) }));
    },
  });
}
