// The executor interface every task type implements (CONTRACT section 4). The worker calls
// `execute(payload, ctx)`; the API checks `payloadSchema` when a task is created.
import type { z } from 'zod';
import type { TaskType } from './config/schema.js';
import type { ApiError } from './errors.js';

export interface TaskLog {
  (message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export interface ExecutionContext {
  /** Aborted on cancel, on timeout and when the worker shuts down; stop the work when it fires. */
  signal: AbortSignal;
  /** Report progress 0..100 (throttled; the last value always lands). */
  progress(percent: number): void;
  log: TaskLog;
  /**
   * The results of the tasks this one depends on (`config.dependencies`, or the previous task of a
   * `parallel: false` batch), by task id; `{}` when it has none. All of them completed, or it would not run.
   */
  dependencies: Record<string, unknown>;
  task: {
    id: string;
    type: TaskType;
    name: string;
    /** 1 for the first attempt. */
    attempt: number;
    timeout_seconds: number;
    metadata: Record<string, unknown>;
  };
}

export interface TaskTypeDefinition<Payload = any> {
  type: TaskType;
  /** Checked at creation (400 on failure) and again before execution. */
  payloadSchema: z.ZodType<Payload>;
  /** Refuses the type at creation, e.g. 403 when it is switched off in config; null when allowed. */
  refuse?(): ApiError | null;
  /**
   * Loads what execution needs (e.g. plugin modules) before a worker takes its first task of this type.
   * Throwing stops the worker at start with the error's message. The API never calls it.
   */
  prepare?(): Promise<void>;
  execute(payload: Payload, ctx: ExecutionContext): Promise<unknown>;
}

export type ExecutorRegistry = Partial<Record<TaskType, TaskTypeDefinition>>;
