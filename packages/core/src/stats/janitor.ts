// The retention janitor: removes finished tasks past `tasks.max_age_hours` (completed) and
// `failed_max_age_hours` (failed, cancelled, timeout) with all their keys, and settles cancel requests
// whose task ended without its worker. Any process may run it; a per-type lock keeps it to one at a time.
import type { Redis } from 'ioredis';
import type { Config, TaskType } from '../config/schema.js';
import { TASK_TYPES } from '../config/schema.js';
import type { TaskKeys } from '../redis/keys.js';
import { defineEngineCommands, type EngineRedis } from '../redis/scripts.js';
import { CANCEL_REASON } from '../store/task-store.js';

const BATCH = 500;

export class RetentionJanitor {
  private readonly redis: EngineRedis;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    redis: Redis,
    private readonly keys: TaskKeys,
    private readonly config: Config,
    private readonly everyMs = 15_000,
    private readonly clock: () => number = Date.now,
  ) {
    this.redis = defineEngineCommands(redis);
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
}
