// Books the tasks BullMQ's job schedulers make into what the engine keeps beside each task: the `created`
// index (GET /tasks), the creation counter (GET /stats, /metrics), and the schedule's runs and last run.
// The engine's create path writes those in the MULTI that adds a job; a scheduler-made job is added by
// BullMQ's own scripts instead, so whoever next sees it books it (book-scheduled-tasks-4.lua, which makes
// booking the same task twice, from any process, a no-op).
import type { RedisClient } from '../redis/connection.js';
import type { TaskType } from '../config/schema.js';
import { scheduledTick } from '../model/scheduled-task-id.js';
import type { TaskKeys } from '../redis/keys.js';
import { defineEngineCommands, type EngineRedis } from '../redis/scripts.js';

export class ScheduledTaskBook {
  private readonly redis: EngineRedis;

  constructor(
    redis: RedisClient,
    private readonly keys: TaskKeys,
  ) {
    this.redis = defineEngineCommands(redis);
  }

  /**
   * Books the schedule's task waiting for its next tick and, when given, `taskId`. With `startedAtMs` (a
   * worker has just taken `taskId`), counts the run of its tick, once. Returns how many tasks were new.
   */
  book(type: TaskType, scheduleId: string, taskId = '', startedAtMs?: number): Promise<number> {
    return this.redis.te_bookScheduledTasks(
      this.keys.created(type),
      this.keys.stats(type),
      this.keys.bull(type, 'repeat'),
      this.keys.schedule(type, scheduleId),
      this.keys.bull(type, ''),
      scheduleId,
      taskId,
      startedAtMs === undefined ? '' : Math.round(startedAtMs),
      scheduledTick(taskId) ?? 0,
    );
  }
}
