// The one check point where task dependencies (CONTRACT section 7) may refuse a retry: a task cancelled
// with `dependency_failed` must not run again while the dependency that failed is still not completed.
// Both POST /tasks/{id}/retry and POST /tasks/retry ask here, after the status check and before the
// atomic retry script.
//
// Until dependencies are stored, the task's own error_code is all there is to go on, so every
// `dependency_failed` task is refused. Once they are, this should read the dependencies' statuses
// (through the store: they may be of other types, so in other Redis slots than the task) and refuse only
// while one of them is not completed.
import type { TaskObject } from '../contracts/responses.js';
import type { TaskStore } from './task-store.js';

export const DEPENDENCY_NOT_COMPLETED = 'dependency not completed';

/** Why the task's dependencies forbid retrying it now, or null when they do not. */
export async function dependencyRetryBlocker(task: TaskObject, _store: TaskStore): Promise<string | null> {
  return task.error_code === 'dependency_failed' ? DEPENDENCY_NOT_COMPLETED : null;
}
