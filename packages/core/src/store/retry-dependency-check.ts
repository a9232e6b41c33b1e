// The one check point where task dependencies (CONTRACT section 7) may refuse a retry: a task cancelled
// with `dependency_failed` must not run again while one of its dependencies is still not completed
// (a dependency may itself have been retried and completed since). Both POST /tasks/{id}/retry and
// POST /tasks/retry ask here, after the status check and before the atomic retry script. The
// dependencies are read through the store: they may be of other types, so in other Redis slots.
import type { TaskObject } from '../contracts/responses.js';
import type { TaskStore } from './task-store.js';

export const DEPENDENCY_NOT_COMPLETED = 'dependency not completed';

/** Why the task's dependencies forbid retrying it now, or null when they do not. */
export async function dependencyRetryBlocker(task: TaskObject, store: TaskStore): Promise<string | null> {
  if (task.error_code !== 'dependency_failed') return null;
  // A batch-chain or gate cancellation always names its dependencies; none to read means none to trust.
  const ids = task.config.dependencies ?? [];
  if (ids.length === 0) return DEPENDENCY_NOT_COMPLETED;
  const found = await store.getMany(ids);
  return ids.every((id) => found.get(id)?.status === 'completed') ? null : DEPENDENCY_NOT_COMPLETED;
}
