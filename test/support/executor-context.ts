// An ExecutionContext for calling an executor directly, without an engine: what the executor alone
// decides (e.g. the retryAfterMs it sets) is checked this way.
import type { ExecutionContext, TaskLog } from '@taskengine/core';

export function executorContext(signal: AbortSignal = new AbortController().signal): ExecutionContext {
  const log = Object.assign(() => {}, { debug() {}, info() {}, warn() {}, error() {} }) as TaskLog;
  return {
    signal,
    progress: () => {},
    log,
    dependencies: {},
    task: { id: 'direct', type: 'custom', name: 'direct', attempt: 1, timeout_seconds: 30, metadata: {} },
  };
}

/** Runs `work`, which must fail, and returns what it threw. */
export async function failureOf<E = Error>(work: Promise<unknown>): Promise<E> {
  return work.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: E) => err,
  );
}
