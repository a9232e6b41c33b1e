// Task priorities (CONTRACT section 2): the client's 0..4 (or name) and BullMQ's 1..5.
// BullMQ priority 0 means "unprioritized", which runs before every prioritized job, so no task ever gets it.
import { z } from 'zod';

export const PRIORITY_NAMES = ['CRITICAL', 'HIGH', 'NORMAL', 'LOW', 'BACKGROUND'] as const;
export const PriorityName = z.enum(PRIORITY_NAMES);
export type PriorityName = z.infer<typeof PriorityName>;
export const Priority = z.literal([0, 1, 2, 3, 4]);
export type Priority = z.infer<typeof Priority>;
export const DEFAULT_PRIORITY: Priority = 2;

export function priorityName(priority: Priority): PriorityName {
  return PRIORITY_NAMES[priority];
}

/** Accepts 0..4 or a name in any case; undefined when it is neither. */
export function parsePriority(value: unknown): Priority | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 4) return value as Priority;
  if (typeof value === 'string') {
    const index = PRIORITY_NAMES.indexOf(value.toUpperCase() as PriorityName);
    if (index >= 0) return index as Priority;
  }
  return undefined;
}

export const toBullPriority = (priority: Priority): number => priority + 1;
export const fromBullPriority = (bull: number): Priority => Math.min(4, Math.max(0, bull - 1)) as Priority;
