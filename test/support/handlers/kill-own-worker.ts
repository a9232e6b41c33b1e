// Test-only `custom` handler: a poison task. It records its start (see record-execution.ts), then
// SIGKILLs the worker process running it, every time it runs: nothing in the worker can catch that, so
// only the engine's stall detection can end the task.
import type { ExecutionContext } from '@taskengine/core';
import { appendExecution } from './execution-line.js';

export default async function killOwnWorker(payload: Record<string, unknown>, { task }: ExecutionContext): Promise<never> {
  appendExecution(String(payload.record_to), 'start', task.id);
  process.kill(process.pid, 'SIGKILL');
  return new Promise<never>(() => {}); // the signal lands before this matters
}
