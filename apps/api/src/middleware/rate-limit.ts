// Rate limiting shared by every API replica (CONTRACT section 6): express-rate-limit counting in
// Redis, per API key (per client address when the API is open). Over the limit: 429 `rate_limited`
// with Retry-After. While Redis is away the limiter lets requests through; the Redis guard behind it
// answers 503 for them anyway.
import { createHash } from 'node:crypto';
import { ApiError, dataNodes, type Config, type RedisClient } from '@taskengine/core';
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
      sendCommand: (command: string, ...args: string[]) => {
        if (command.toUpperCase() === 'SCRIPT' && args[0]?.toUpperCase() === 'LOAD' && args[1] !== undefined) return loadScript(redis, args[1]);
        return redis.call(command, ...args) as Promise<RedisReply>;
      },
    }),
    handler: (_req, res, next, options) => {
      // express-rate-limit has set Retry-After (seconds until the window resets) already.
      next(new ApiError(options.statusCode, 'rate_limited', `too many requests: at most ${max} per ${windowSeconds} s`, { retry_after_seconds: Number(res.get('Retry-After')) }));
    },
  });
}

/**
 * rate-limit-redis's SCRIPT LOAD. The store loads its scripts once, at construction, and keeps the
 * promise of their SHA: a load that fails (the API process builds the app before its Redis connection is
 * up, and ioredis has no offline queue here) left that promise rejected for good, so every request hit
 * a store error and passOnStoreError let it through, i.e. no rate limit at all in a real API process.
 * The SHA does not need Redis (it is the SHA-1 of the script), so a failed load answers it locally; the
 * first EVALSHA then gets NOSCRIPT, on which the store loads the script again, for real. On Redis
 * Cluster the script goes to every master: EVALSHA runs on the node owning the counter's key.
 */
async function loadScript(redis: RedisClient, script: string): Promise<string> {
  const localSha = createHash('sha1').update(script).digest('hex');
  try {
    const [sha] = await Promise.all(dataNodes(redis).map((node) => node.script('LOAD', script) as Promise<string>));
    return sha ?? localSha;
  } catch {
    return localSha;
  }
}
