// Test-only `custom` handler (loaded by worker processes through `executors.custom.handlers`): writes a
// `start` line to the log file named in the payload before doing anything else, sleeps `duration_ms`
// (stopping when its signal aborts), then writes a `done` line. The log is the record of executions that
// lives outside the worker, so a worker killed mid-task cannot take its count with it.
import type { ExecutionContext } from '@taskengine/core';
import { appendExecution } from './execution-line.js';

export default async function recordExecution(payload: Record<string, unknown>, { signal, task }: ExecutionContext): Promise<unknown> {
  const log = String(payload.record_to);
  appendExecution(log, 'start', task.id);
  const duration = Number(payload.duration_ms ?? 0);
  if (duration > 0) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, duration);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(signal.reason);
      }, { once: true });
    });
  }
  appendExecution(log, 'done', task.id);
  return { pid: process.pid };
}
