// The retention janitor: removes finished tasks past `tasks.max_age_hours` (completed) and
// `failed_max_age_hours` (failed, cancelled, timeout) with all their keys, settles cancel requests
// whose task ended without its worker, and drops cancelled / timeout side entries that a worker wrote
// but whose move to failed never happened (it died in between), and redoes workflow steps a process
// died in the middle of (WorkflowReconciler). Any process may run it; a per-type lock keeps it to one
// at a time.
import type { RedisClient } from '../redis/connection.js';
import type { Config, TaskType } from '../config/schema.js';
import { TASK_TYPES } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { TaskKeys } from '../redis/keys.js';
import { defineEngineCommands, type EngineRedis } from '../redis/scripts.js';
import { CANCEL_REASON } from '../store/task-store.js';
import { WorkflowCoordinator } from '../workflows/workflow-coordinator.js';
import { WorkflowReconciler } from '../workflows/workflow-reconciler.js';

const BATCH = 500;
const OUTCOME_BATCH = 1000;

/**
 * How old a cancelled / timeout side entry must be before its task is checked against the failed set.
 * A worker writes the entry while it holds the task's lock, just before BullMQ's move; that move can
 * only land while the lock lives (renewed until the move is sent, then at most lock_duration), so
 * twice the lock duration, and at least a minute for clocks that differ between machines, is safe.
 */
export function outcomeGraceMs(config: Config): number {
  return Math.max(60_000, 2 * config.workers.lock_duration * 1000);
}

export class RetentionJanitor {
  private readonly redis: EngineRedis;
  private readonly workflows: WorkflowReconciler;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    redis: RedisClient,
    private readonly keys: TaskKeys,
    private readonly config: Config,
    private readonly everyMs = 15_000,
    private readonly clock: () => number = Date.now,
    /** Told about every repair, so operators see a count that was off and why. */
    private readonly logger?: Logger,
    /** How old a held task must be before it is linked again (tests shorten it). */
    heldLinkGraceMs?: number,
  ) {
    this.redis = defineEngineCommands(redis);
    this.workflows = new WorkflowReconciler(redis, keys, new WorkflowCoordinator(redis, keys), heldLinkGraceMs);
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.running = this.runOnce().catch(() => {});
    }, this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass over every type; returns how many tasks left retention. */
  async runOnce(): Promise<number> {
    let total = 0;
    for (const type of TASK_TYPES) total += await this.sweep(type);
    return total;
  }

  private async sweep(type: TaskType): Promise<number> {
    const lock = this.keys.janitorLock(type);
    if ((await this.redis.set(lock, '1', 'PX', this.everyMs, 'NX')) === null) return 0;
    try {
      const k = (suffix: string): string => this.keys.bull(type, suffix);
      await this.redis.te_reconcileCancels(this.keys.cancelRequests(type), k('failed'), k('completed'), this.keys.cancelled(type), k(''), CANCEL_REASON);
      const now = this.clock();
      // Before retention: a task must have told its dependents before it (and its dependents set) goes.
      const { redone, relinked } = await this.workflows.reconcile(type, now);
      if (redone + relinked > 0) this.logger?.debug('workflow steps redone', { type, ended_tasks: redone, held_tasks: relinked });
      const repaired = await this.reconcileOutcomes(type, now);
      if (repaired > 0) {
        this.logger?.warn('count repaired: cancelled/timeout entries of tasks that did not end so were dropped (a worker stopped between its record and the move)', { type, entries: repaired });
      }
      const completedCutoff = now - this.config.tasks.max_age_hours * 3_600_000;
      const failedCutoff = now - this.config.tasks.failed_max_age_hours * 3_600_000;
      let removed = 0;
      for (;;) {
        const n = await this.redis.te_removeExpired(
          k('completed'), k('failed'), this.keys.created(type), this.keys.cancelled(type), this.keys.timedOut(type),
          this.keys.cancelRequests(type), k(''), Math.floor(completedCutoff), Math.floor(failedCutoff), BATCH,
        );
        removed += n;
        if (n < BATCH) break;
      }
      return removed;
    } finally {
      await this.redis.del(lock);
    }
  }

  /** Drops side entries of tasks that are not failed as they say (reconcile-outcomes-4.lua); returns how many. */
  private async reconcileOutcomes(type: TaskType, now: number): Promise<number> {
    const k = (suffix: string): string => this.keys.bull(type, suffix);
    const upTo = Math.floor(now - outcomeGraceMs(this.config));
    let repaired = 0;
    for (;;) {
      const [removed, more] = await this.redis.te_reconcileOutcomes(
        k('failed'), this.keys.cancelled(type), this.keys.timedOut(type), this.keys.outcomesChecked(type), k(''), upTo, OUTCOME_BATCH,
      );
      repaired += removed;
      if (!more) return repaired;
    }
  }
}
