// How the client follows one task until it ends. Today it polls GET /tasks/{id}; when the API serves
// GET /tasks/{id}/events (Server-Sent Events, CONTRACT section 7) an SSE watcher with the same signature
// takes its place, and waitFor and the CLI keep working unchanged.
import { setTimeout as sleep } from 'node:timers/promises';
import { isFinal } from '@taskengine/core/model/status';
import { isTransient } from './errors.js';
import type { TaskObject } from './types.js';

export interface WatchOptions {
  /** Longest pause between two polls; polling starts faster and slows down to this. @defaultValue 1000 */
  intervalMs?: number;
  /** Stops the watch: the iterator then throws the signal's reason. */
  signal?: AbortSignal;
  /**
   * How long the API may stay unreachable (or answer 429/503) before the watch gives up with that error,
   * so a long wait outlives an API restart. @defaultValue 60000
   */
  outageToleranceMs?: number;
}

/** Yields the task's first state, then each state that differs from the one before, and ends after a final status. */
export type TaskWatcher = (id: string, options: WatchOptions) => AsyncIterable<TaskObject>;

const FIRST_POLL_MS = 100;

/** Changes worth reporting: status, progress, a new attempt. */
const stateKey = (task: TaskObject): string => `${task.status}|${task.progress}|${task.retry_count}`;

export function pollingWatcher(getTask: (id: string, signal?: AbortSignal) => Promise<TaskObject>): TaskWatcher {
  return async function* poll(id, { intervalMs = 1000, signal, outageToleranceMs = 60_000 } = {}) {
    // Short tasks end within a few hundred ms: start quick, then back off to the interval.
    let delay = Math.min(FIRST_POLL_MS, intervalMs);
    let last: string | undefined;
    let failingSince: number | undefined;
    /** The task, or undefined after a transient failure that is still within the tolerance. */
    const read = async (): Promise<TaskObject | undefined> => {
      try {
        const task = await getTask(id, signal);
        failingSince = undefined;
        return task;
      } catch (err) {
        failingSince ??= Date.now();
        if (signal?.aborted || !isTransient(err) || Date.now() - failingSince >= outageToleranceMs) throw err;
        return undefined;
      }
    };
    for (;;) {
      const task = await read();
      if (task && stateKey(task) !== last) {
        last = stateKey(task);
        yield task;
      }
      if (task && isFinal(task.status)) return;
      await sleep(delay, undefined, { signal });
      delay = Math.min(intervalMs, Math.ceil(delay * 1.5));
    }
  };
}
