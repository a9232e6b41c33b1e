// Queue control (CONTRACT section 7, "Queues"): each task type's queue with its paused state, status
// counts, the worker slots serving it and its rate limit; pausing and resuming it.
//
// Pause and resume are BullMQ's own (a `paused` field in the queue's meta hash that every worker's
// fetch script reads), so they hold for every worker process at once, running tasks finish, and the
// dashboard's pause/resume buttons change the very same state GET /queues reports.
import type { Config, TaskType } from '../config/schema.js';
import type { QueueInfo } from '../contracts/retry-and-queues.js';
import type { TaskStore } from '../store/task-store.js';
import type { WorkerRegistry } from '../workers/registry.js';

export class QueueControl {
  constructor(
    private readonly store: TaskStore,
    private readonly registry: WorkerRegistry,
    private readonly config: Config,
  ) {}

  /** Every given type's queue, in the order given. */
  async overview(types: readonly TaskType[]): Promise<QueueInfo[]> {
    const [counts, paused, workers] = await Promise.all([
      this.store.countsByType(types),
      Promise.all(types.map((type) => this.store.queues[type].isPaused())),
      this.registry.list(),
    ]);
    return types.map((type, i) => {
      const serving = workers.filter((worker) => worker.concurrency_by_type[type] !== undefined);
      return {
        type,
        paused: paused[i]!,
        counts: counts[type].statuses,
        concurrency: serving.reduce((sum, worker) => sum + (worker.concurrency_by_type[type] ?? 0), 0),
        workers: serving.length,
        rate_limit: this.config.workers.rate_limits[type] ?? null,
      };
    });
  }

  /** No task of the type starts until resumed, on any worker; running ones finish; new ones queue. */
  async pause(type: TaskType): Promise<void> {
    await this.store.queues[type].pause();
  }

  async resume(type: TaskType): Promise<void> {
    await this.store.queues[type].resume();
  }
}
