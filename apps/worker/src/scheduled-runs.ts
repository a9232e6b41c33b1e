// A schedule's runs are jobs BullMQ's job scheduler makes by itself: the engine's create path never sees
// them. The worker that takes one books it before running it (core ScheduledTaskBook): its entry in the
// task index and its creation count, the next run BullMQ made a moment before (taking a scheduler's job
// is what makes the next one), and the schedule's run count and last run, once per tick.
import {
  type Logger,
  type RedisClient,
  ScheduledTaskBook,
  type TaskJobData,
  type TaskKeys,
  type TaskType,
} from '@taskengine/core';
import type { Job } from 'bullmq';

type Processor = (job: Job, token?: string) => Promise<unknown>;

export class ScheduledRuns {
  private readonly book: ScheduledTaskBook;

  constructor(
    redis: RedisClient,
    keys: TaskKeys,
    private readonly logger: Logger,
  ) {
    this.book = new ScheduledTaskBook(redis, keys);
  }

  /** `processor`, booking each scheduler-made task first; other tasks cost nothing more. */
  booking(type: TaskType, processor: Processor): Processor {
    return async (job, token) => {
      const scheduleId = (job.data as TaskJobData).schedule_id;
      if (scheduleId !== undefined) {
        // The run goes ahead if booking fails (Redis refusing writes, say): skipping it would lose the work,
        // while a missed booking only leaves this task out of GET /tasks' pages (GET /tasks/{id} and the
        // status counts still see it) and the schedule's runs one short. A retry of the run books it again.
        await this.book.book(type, scheduleId, job.id!, job.processedOn ?? Date.now()).catch((err: Error) => {
          this.logger.warn('could not book a scheduled run', { type, task_id: job.id, schedule_id: scheduleId, error: err.message });
        });
      }
      return processor(job, token);
    };
  }
}
