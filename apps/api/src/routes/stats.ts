// GET /stats (CONTRACT section 3): status counts from the queues themselves, lifetime counters and
// throughput from the per-type counters, workers from the registry. Its cost does not grow with tasks.
import {
  emptyStatusCounts,
  PRIORITY_NAMES,
  readActivity,
  type RedisClient,
  type Stats,
  TASK_TYPES,
  type TaskKeys,
  type TaskStore,
  type WorkerList,
  type WorkerRegistry,
} from '@taskengine/core';
import { Router } from 'express';

export interface StatsDeps {
  redis: RedisClient;
  keys: TaskKeys;
  store: TaskStore;
  registry: WorkerRegistry;
}

export async function computeStats({ redis, keys, store, registry }: StatsDeps): Promise<Stats> {
  const [counts, activity, workers] = await Promise.all([store.countsByType(), readActivity(redis, keys), registry.list()]);
  const totals = emptyStatusCounts();
  const byType = {} as Stats['by_type'];
  const byPriority = Object.fromEntries(PRIORITY_NAMES.map((name) => [name, { queued: 0, running: 0 }])) as Stats['by_priority'];
  const lifetime = { created: 0, completed: 0, failed: 0, cancelled: 0, timeout: 0, retried: 0 };
  let execSum = 0, execCount = 0, waitSum = 0, waitCount = 0, completedLastMinute = 0, failedLastMinute = 0;
  for (const type of TASK_TYPES) {
    const { statuses, queuedByPriority, runningByPriority } = counts[type];
    byType[type] = { ...statuses };
    for (const [status, n] of Object.entries(statuses)) totals[status as keyof typeof totals] += n;
    PRIORITY_NAMES.forEach((name, i) => {
      byPriority[name]!.queued += queuedByPriority[i] ?? 0;
      byPriority[name]!.running += runningByPriority[i] ?? 0;
    });
    const { lifetime: life } = activity[type];
    for (const key of Object.keys(lifetime) as Array<keyof typeof lifetime>) lifetime[key] += life[key];
    execSum += life.exec_ms_sum;
    execCount += life.exec_count;
    waitSum += life.wait_ms_sum;
    waitCount += life.wait_count;
    completedLastMinute += activity[type].completedLastMinute;
    failedLastMinute += activity[type].failedLastMinute;
  }
  const finished = lifetime.completed + lifetime.failed + lifetime.timeout;
  return {
    total_tasks: Object.values(totals).reduce((sum, n) => sum + n, 0),
    ...totals,
    by_type: byType,
    by_priority: byPriority,
    avg_execution_time_ms: execCount ? Math.round((execSum / execCount) * 100) / 100 : null,
    avg_wait_time_ms: waitCount ? Math.round((waitSum / waitCount) * 100) / 100 : null,
    success_rate: finished ? Math.round((lifetime.completed / finished) * 10000) / 10000 : null,
    throughput: { completed_last_minute: completedLastMinute, failed_last_minute: failedLastMinute },
    lifetime,
    workers: { total: workers.length, busy: workers.filter((w) => w.status === 'busy').length },
    timestamp: new Date().toISOString(),
  };
}

export function statsRoutes(deps: StatsDeps): Router {
  const router = Router();
  router.get('/stats', async (_req, res) => {
    res.json(await computeStats(deps));
  });
  router.get('/workers', async (_req, res) => {
    const workers = await deps.registry.list();
    res.json({ workers, total: workers.length, busy: workers.filter((w) => w.status === 'busy').length } satisfies WorkerList);
  });
  return router;
}
