// Builds the Express app without listening, so tests and main.ts share it.
import { readFileSync } from 'node:fs';
import {
  type Config,
  type ExecutorRegistry,
  type Logger,
  QueueControl,
  type RedisClient,
  TaskEventHub,
  TaskKeys,
  TaskRetries,
  type TaskStore,
  WorkerRegistry,
} from '@taskengine/core';
import express, { type Express } from 'express';
import { ApiKeyring } from './auth/api-keys.js';
import { dashboardRouter } from './dashboard.js';
import { EventStreams } from './live/event-streams.js';
import { EngineMetrics } from './metrics.js';
import { authenticate, requireFullAccess } from './middleware/authenticate.js';
import { errorHandler, notFound } from './middleware/errors.js';
import { jsonBody } from './middleware/json-body.js';
import { rateLimiter } from './middleware/rate-limit.js';
import { requireRedis } from './middleware/require-redis.js';
import { securityHeaders } from './middleware/security-headers.js';
import { buildOpenApiDocument } from './openapi/document.js';
import { openApiRoutes } from './openapi/routes.js';
import { healthRoutes, type DependencyStates } from './routes/health.js';
import { queueRoutes } from './routes/queues.js';
import { retryRoutes } from './routes/retry.js';
import { liveRoutes } from './routes/live.js';
import { scheduleRoutes } from './routes/schedules.js';
import { statsRoutes } from './routes/stats.js';
import { taskRoutes } from './routes/tasks.js';

export interface AppDeps {
  config: Config;
  redis: RedisClient;
  store: TaskStore;
  executors: ExecutorRegistry;
  logger: Logger;
  /** StateMachine and OneAPI states for /health (main.ts runs the monitors); default: not watched. */
  dependencies?: () => DependencyStates;
  /**
   * Aborted when the process stops (main.ts on SIGTERM): open event streams end at once and their
   * Redis readers disconnect, so the drain does not wait on streams that never end by themselves.
   */
  shutdown?: AbortSignal;
}

const NOT_WATCHED = (): DependencyStates => ({ state_machine: 'disabled', oneapi: 'disabled' });

export const APP_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function createApp({ config, redis, store, executors, logger, dependencies = NOT_WATCHED, shutdown }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are fresh JSON, never revalidated: hashing each body for an ETag is wasted work.
  app.set('etag', false);
  app.set('query parser', 'simple');
  const keys = new TaskKeys(config.redis.prefix);
  const registry = new WorkerRegistry(redis, keys, config.workers.heartbeat_interval);

  const keyring = new ApiKeyring(config.auth.api_keys);

  const hub = new TaskEventHub(redis, keys, { logger });
  const streams = new EventStreams(config.server.events.heartbeat_seconds * 1000);
  shutdown?.addEventListener(
    'abort',
    () => {
      streams.closeAll();
      hub.close();
    },
    { once: true },
  );

  const metrics = new EngineMetrics({ redis, keys, store, registry, openEventStreams: () => streams.size });

  app.use(metrics.timeRequests());
  app.use(securityHeaders(config));
  app.use(healthRoutes({ config, dependencies, redis, store, registry, version: APP_VERSION, startedAt: Date.now() }));
  app.use(openApiRoutes(buildOpenApiDocument({ config, executors, version: APP_VERSION, keysRequired: !keyring.open })));
  if (config.dashboard.enabled) {
    app.use(config.dashboard.path, authenticate(keyring, { browser: true }), requireFullAccess, dashboardRouter(config, store));
  }
  app.use(authenticate(keyring));
  if (config.server.rate_limit.enabled) app.use(rateLimiter(config, redis));
  app.use(jsonBody(config));
  app.use(requireRedis(redis));
  app.use(taskRoutes({ config, store, executors }));
  app.use(retryRoutes({ store, retries: new TaskRetries(redis, store) }));
  app.use(queueRoutes({ queues: new QueueControl(store, registry, config) }));
  app.use(liveRoutes({ redis, keys, store, hub, streams }));
  app.use(scheduleRoutes({ config, store, executors }));
  app.use(statsRoutes({ redis, keys, store, registry }));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.render());
  });
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
