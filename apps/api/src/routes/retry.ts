// Retry routes (CONTRACT section 7, "Retry"): POST /tasks/{id}/retry puts one failed, timed-out or
// cancelled task back into its queue; POST /tasks/retry does so for the tasks matching a filter.
import {
  ApiError,
  BulkRetryQuery,
  TaskType,
  validationError,
  zodDetails,
  type TaskRetried,
  type TasksRetried,
  type TaskRetries,
  type TaskStore,
} from '@taskengine/core';
import { Router } from 'express';
import { assertTypeAllowed, scopedTypes } from './tasks.js';

export interface RetryRouteDeps {
  store: TaskStore;
  retries: TaskRetries;
}

export function retryRoutes({ store, retries }: RetryRouteDeps): Router {
  const router = Router();

  router.post('/tasks/retry', async (req, res) => {
    const parsed = BulkRetryQuery.safeParse(req.query);
    if (!parsed.success) throw validationError(zodDetails(parsed.error));
    const { statuses, types, limit } = parsed.data;
    // A scoped key retries only its own types; naming another type is refused like any other use of it.
    if (types) assertTypeAllowed(res, types);
    const { taskIds, skipped } = await retries.retryMatching({ statuses, types: types ?? scopedTypes(res) ?? TaskType.options, limit });
    // redis.wait_replicas: answered once replicas have every retry made here (one WAIT for them all).
    if (taskIds.length) await store.replication?.confirmEarlierWrites({ kind: 'retry', taskIds });
    res.json({ success: true, retried: taskIds.length, task_ids: taskIds, skipped } satisfies TasksRetried);
  });

  router.post('/tasks/:id/retry', async (req, res) => {
    const task = await store.get(req.params.id);
    assertTypeAllowed(res, [task.type]);
    const result = await retries.retry(task);
    if (result.outcome === 'missing') throw new ApiError(404, 'task_not_found', `task ${task.id} not found`);
    if (result.outcome === 'refused') {
      // The contract's code for a 409 that is not about cancelling; details say what the task is.
      throw new ApiError(409, 'conflict', `task ${task.id} cannot be retried: ${result.reason}`, { status: result.status, reason: result.reason });
    }
    await store.replication?.confirmEarlierWrites({ kind: 'retry', taskIds: [task.id] });
    res.json({ success: true, task_id: task.id, status: 'queued', previous_status: result.previous } satisfies TaskRetried);
  });

  return router;
}
