// GET /health (CONTRACT section 3): never needs a key; 503 when Redis does not answer within a second.
import type { Config, Health, RedisClient, TaskStore, WorkerRegistry } from '@taskengine/core';
import { Router } from 'express';

export type DependencyStates = Health['dependencies'];

export interface HealthDeps {
  config: Config;
  /** StateMachine and OneAPI as last seen; StateMachine down makes the engine `degraded`. */
  dependencies: () => DependencyStates;
  redis: RedisClient;
  store: TaskStore;
  registry: WorkerRegistry;
  version: string;
  startedAt: number;
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes({ config, dependencies, redis, store, registry, version, startedAt }: HealthDeps): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const base = {
      node: config.node.id,
      name: config.node.name,
      version,
      dependencies: dependencies() satisfies Health['dependencies'],
      uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
      timestamp: new Date().toISOString(),
    };
    try {
      if (redis.status !== 'ready') throw new Error('not connected');
      const [counts, workers] = await withTimeout(Promise.all([store.countsByType(), registry.list(), redis.ping()]), 1000);
      const queueSize = Object.values(counts).reduce((sum, c) => sum + c.statuses.queued, 0);
      const status = base.dependencies.state_machine === 'down' ? 'degraded' : 'healthy';
      res.json({ status, ...base, redis: 'up', workers: workers.length, queue_size: queueSize } satisfies Health);
    } catch {
      res.status(503).json({ status: 'unhealthy', ...base, redis: 'down', workers: 0, queue_size: null } satisfies Health);
    }
  });
  return router;
}
