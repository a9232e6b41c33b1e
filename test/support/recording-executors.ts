// The build's executors, each wrapped to record what the engine handed it and when: which task ran,
// the ctx.dependencies it saw, and how many attempts ran at once in this process (in-process workers
// share one registry, so several workers are counted together).
import type { ExecutorRegistry, TaskType } from '@taskengine/core';
import { createExecutorRegistry } from '@taskengine/executors';
import { testConfig } from './harness.js';

export interface RunRecord {
  id: string;
  type: TaskType;
  dependencies: Record<string, unknown>;
  /** Attempts running in this process when this one started, itself included. */
  runningAtStart: number;
}

export interface RecordingExecutors {
  executors: ExecutorRegistry;
  runs: RunRecord[];
  /** The most attempts that ran at once so far. */
  peak(): number;
  ranIds(): string[];
}

export function recordingExecutors(): RecordingExecutors {
  const executors = createExecutorRegistry(testConfig('unused'));
  const runs: RunRecord[] = [];
  let running = 0;
  let peak = 0;
  for (const definition of Object.values(executors)) {
    const execute = definition.execute.bind(definition);
    definition.execute = async (payload, ctx) => {
      running++;
      peak = Math.max(peak, running);
      runs.push({ id: ctx.task.id, type: ctx.task.type, dependencies: ctx.dependencies, runningAtStart: running });
      try {
        return await execute(payload, ctx);
      } finally {
        running--;
      }
    };
  }
  return { executors, runs, peak: () => peak, ranIds: () => runs.map((run) => run.id) };
}
