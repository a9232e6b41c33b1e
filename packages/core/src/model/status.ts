// Task statuses (CONTRACT section 2) and error codes that decide them.
import { z } from 'zod';

export const TASK_STATUSES = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'timeout'] as const;
export const TaskStatus = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const FINAL_STATUSES = ['completed', 'failed', 'cancelled', 'timeout'] as const satisfies readonly TaskStatus[];
export type FinalStatus = (typeof FINAL_STATUSES)[number];
export const isFinal = (status: TaskStatus): status is FinalStatus => (FINAL_STATUSES as readonly TaskStatus[]).includes(status);

export function emptyStatusCounts(): Record<TaskStatus, number> {
  return { pending: 0, queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0, timeout: 0 };
}
