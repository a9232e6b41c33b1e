// How the client follows one task until it ends: through its live event stream (GET /tasks/{id}/events,
// CONTRACT section 7), which says each change as it happens, and by polling GET /tasks/{id} when the
// stream cannot be had (an older API, a proxy that cuts it, the API restarting).
import { setTimeout as sleep } from 'node:timers/promises';
import { isFinal } from '@taskengine/core/model/status';
import { isTransient } from './errors.js';
import type { TaskObject, TaskStatusEvent, TaskStreamEvent } from './types.js';

export interface WatchOptions {
  /** Longest pause between two polls (when polling); polling starts faster and slows down to this. @defaultValue 1000 */
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

/** The task as a status event says it is now; what the event does not carry is kept as it was. */
function withStatus(task: TaskObject, event: TaskStatusEvent): TaskObject {
  return {
    ...task,
    status: event.status,
    progress: event.progress,
    retry_count: event.retry_count,
    error_code: event.error_code,
    error: event.error_code === task.error_code ? task.error : null,
  };
}

/**
 * Follows the task's event stream: a whole task object is read when the stream starts and when it
 * reports a final status (the result, the error), and each event in between updates the last one.
 * If the stream cannot be opened, breaks, or ends before a final status, the watch goes on by polling.
 */
export function eventStreamWatcher(
  openEvents: (id: string, signal?: AbortSignal) => AsyncIterable<TaskStreamEvent>,
  getTask: (id: string, signal?: AbortSignal) => Promise<TaskObject>,
): TaskWatcher {
  const poll = pollingWatcher(getTask);
  return async function* watch(id, options = {}) {
    const { signal } = options;
    let task: TaskObject | undefined;
    let shown: string | undefined;
    try {
      for await (const event of openEvents(id, signal)) {
        if (event.event === 'progress') {
          if (!task) continue;
          task = { ...task, progress: event.data.progress };
        } else if (!task || isFinal(event.data.status)) {
          const read = await getTask(id, signal);
          task = isFinal(read.status) ? read : withStatus(read, event.data);
        } else {
          task = withStatus(task, event.data);
        }
        if (stateKey(task) !== shown) {
          shown = stateKey(task);
          yield task;
        }
        if (isFinal(task.status)) return;
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err;
    }
    for await (const polled of poll(id, options)) {
      if (stateKey(polled) === shown) continue;
      shown = stateKey(polled);
      yield polled;
    }
  };
}
