// Retry delays. BullMQ applies its built-in `fixed` and `exponential` strategies before any custom one,
// and a custom one is the only hook that sees the attempt's error. So jobs carry our own strategy
// names, and the workers' strategy computes the contract's delay, lengthened when the failed attempt
// asked for more (an upstream's Retry-After).

import type { BackoffStrategy } from 'bullmq';
import { z } from 'zod';

export const BackoffKind = z.enum(['fixed', 'exponential']);
export type BackoffKind = z.infer<typeof BackoffKind>;

const STRATEGY_NAMES: Record<BackoffKind, string> = { fixed: 'te-fixed', exponential: 'te-exponential' };

/** BullMQ's `backoff` job option for a task. */
export function backoffOption(kind: BackoffKind, delayMs: number): { type: string; delay: number } {
  return { type: STRATEGY_NAMES[kind], delay: delayMs };
}

/** The task's back-off kind, from a stored job's `backoff.type` (ours, or BullMQ's plain names). */
export function backoffKind(type: string | undefined): BackoffKind {
  return type === STRATEGY_NAMES.fixed || type === 'fixed' ? 'fixed' : 'exponential';
}

/** An attempt's failure that asks the next attempt to wait at least `retryAfterMs`. */
export interface RetryHint {
  retryAfterMs?: number;
}

/**
 * BullMQ's `settings.backoffStrategy` for the workers: retry n waits `delay` (fixed) or
 * `delay * 2^(n-1)` (exponential), or longer when the failed attempt carried a Retry-After.
 */
export const retryBackoff: BackoffStrategy = (attemptsMade, type, error, job) => {
  const backoff = job?.opts.backoff;
  const delayMs = typeof backoff === 'object' ? (backoff.delay ?? 0) : (backoff ?? 0);
  const planned = backoffKind(type) === 'fixed' ? delayMs : Math.round(2 ** Math.max(0, attemptsMade - 1) * delayMs);
  const asked = (error as RetryHint | undefined)?.retryAfterMs;
  return typeof asked === 'number' && Number.isFinite(asked) && asked > planned ? Math.ceil(asked) : planned;
};
