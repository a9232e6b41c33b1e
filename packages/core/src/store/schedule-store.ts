// Schedules (CONTRACT section 7) on BullMQ job schedulers. A schedule of a task type is a job scheduler in
// that type's queue, so BullMQ makes exactly one job per tick however many API and worker processes run:
// the job of a tick has an id derived from the tick (`repeat:<schedule id>:<tick ms>`), and the next one
// is made only by the process that takes the current one. That job is the run's task, carrying
// `schedule_id`. Beside BullMQ's record the engine keeps one hash per schedule (name, template, creation
// time, runs, last run) in the type's hash tag, so a worker counts a run in the script that books its task.
import { Job, type JobSchedulerJson, type JobsOptions, type Queue, type RepeatOptions } from 'bullmq';
import type { RedisClient } from '../redis/connection.js';
import type { TaskType } from '../config/schema.js';
import { TASK_TYPES } from '../config/schema.js';
import type { TaskObject } from '../contracts/responses.js';
import type { ScheduledTask, ScheduleObject, ScheduleSpec } from '../contracts/schedule.js';
import { backoffOption } from '../model/backoff.js';
import { priorityName, toBullPriority } from '../model/priority.js';
import type { TaskJobData } from '../model/task.js';
import type { TaskKeys } from '../redis/keys.js';
import { defineEngineCommands, type EngineRedis } from '../redis/scripts.js';
import { ScheduledTaskBook } from './scheduled-task-book.js';

/** Cancels a waiting task the way a client's cancel does (TaskStore.cancel). */
export type CancelTask = (task: Pick<TaskObject, 'id' | 'type'>) => Promise<unknown>;

/** What the engine's hash of a schedule holds (all strings, as Redis keeps them). */
interface ScheduleHash {
  name?: string;
  task?: string;
  created_at?: string;
  runs?: string;
  last_run_at?: string;
}

const iso = (ms: number | string | undefined | null): string | null =>
  ms === undefined || ms === null || ms === '' ? null : new Date(Number(ms)).toISOString();

export class ScheduleStore {
  private readonly redis: EngineRedis;
  private readonly book: ScheduledTaskBook;

  constructor(
    redis: RedisClient,
    private readonly keys: TaskKeys,
    private readonly queues: Record<TaskType, Queue>,
    private readonly cancelTask: CancelTask,
  ) {
    this.redis = defineEngineCommands(redis);
    this.book = new ScheduledTaskBook(redis, keys);
  }

  /** Creates the schedule and its first run's task (due at once with every_seconds); returns it as stored. */
  async create(spec: ScheduleSpec, now = Date.now()): Promise<ScheduleObject> {
    const { task } = spec;
    const hashKey = this.keys.schedule(task.type, spec.id);
    const template: ScheduledTask = {
      type: task.type,
      name: task.name,
      priority: task.priority,
      priority_name: priorityName(task.priority),
      config: task.config,
      payload: task.payload,
      metadata: task.metadata,
    };
    // The hash first: a worker counts runs only of schedules that have one, and the first run may be
    // taken the moment the scheduler exists.
    await this.redis.hset(hashKey, { name: spec.name, task: JSON.stringify(template), created_at: now, runs: 0 });
    const data: TaskJobData = { payload: task.payload, timeout_seconds: task.config.timeout_seconds, schedule_id: spec.id };
    if (Object.keys(task.metadata).length) data.metadata = task.metadata;
    const repeat = spec.cron ? { pattern: spec.cron.expression, tz: spec.cron.timezone } : { every: spec.everySeconds! * 1000 };
    let first: Job | undefined;
    try {
      first = await this.queues[task.type].upsertJobScheduler(spec.id, repeat, {
        name: task.name,
        data,
        opts: {
          priority: toBullPriority(task.priority),
          attempts: task.config.max_retries + 1,
          backoff: backoffOption(task.config.backoff, Math.round(task.config.retry_delay_seconds * 1000)),
        },
      });
    } catch (err) {
      await this.redis.del(hashKey).catch(() => {});
      throw err;
    }
    if (!first?.id) {
      // Only a cron that never fires makes no first run, and the API refuses those.
      await this.redis.del(hashKey).catch(() => {});
      throw new Error(`job scheduler ${spec.id} made no first run`);
    }
    await this.book.book(task.type, spec.id, first.id);
    const stored = await this.get(spec.id, [task.type]);
    if (!stored) throw new Error(`schedule ${spec.id} vanished right after it was created`);
    return stored;
  }

  /** Every schedule of the given types, newest first. */
  async list(types: readonly TaskType[] = TASK_TYPES): Promise<ScheduleObject[]> {
    const perType = await Promise.all(types.map(async (type) => ({ type, schedulers: await this.queues[type].getJobSchedulers() })));
    const found = perType.flatMap(({ type, schedulers }) => schedulers.map((scheduler) => ({ type, scheduler })));
    const hashes = await this.readHashes(found.map(({ type, scheduler }) => ({ type, id: scheduler.key })));
    return found
      .flatMap(({ scheduler }, i) => scheduleFrom(scheduler, hashes[i]!) ?? [])
      .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : a.id < b.id ? -1 : 1));
  }

  /** One schedule, looked for in each of the given types; null when there is none. */
  async get(id: string, types: readonly TaskType[] = TASK_TYPES): Promise<ScheduleObject | null> {
    const schedulers = await Promise.all(types.map((type) => this.queues[type].getJobScheduler(id)));
    const index = schedulers.findIndex((scheduler) => scheduler !== undefined);
    if (index === -1) return null;
    const [hash] = await this.readHashes([{ type: types[index]!, id }]);
    return scheduleFrom(schedulers[index]!, hash!);
  }

  /**
   * Ends a schedule: no run is made after this returns. Its task waiting for a tick not yet due is
   * cancelled; a run already due or running goes on. False when the schedule was gone already.
   */
  async remove(schedule: ScheduleObject): Promise<boolean> {
    const type = schedule.task.type;
    const [found, waiting, dueMs] = await this.redis.te_endSchedule(
      this.keys.bull(type, 'repeat'),
      this.keys.schedule(type, schedule.id),
      this.keys.bull(type, 'delayed'),
      schedule.id,
    );
    if (waiting && dueMs > Date.now()) await this.cancelTask({ id: waiting, type });
    return found === 1;
  }

  /**
   * After a client cancelled a schedule's waiting run: BullMQ makes a scheduler's next run only when the
   * current one is taken, and a cancelled run never is, so the schedule would stop. Makes the next run as
   * a worker taking this one would (a no-op unless this run is the scheduler's current one).
   */
  async skipCancelledRun(task: Pick<TaskObject, 'id' | 'type'>): Promise<void> {
    const queue = this.queues[task.type];
    const job = await Job.fromId(queue, task.id);
    if (!job?.repeatJobKey) return;
    // What BullMQ's Worker calls when it takes a scheduler's job; BullMQ's script makes the next run
    // only when `producerId` is the scheduler's current job, so a late or repeated call makes nothing.
    const opts = job.opts as JobsOptions & { repeat?: Omit<RepeatOptions, 'key' | 'prevMillis'> };
    const scheduler = await queue.jobScheduler;
    await scheduler.upsertJobScheduler(job.repeatJobKey, opts.repeat ?? {}, job.name, job.data, opts, { override: false, producerId: job.id! });
    await this.book.book(task.type, job.repeatJobKey);
  }

  private async readHashes(refs: Array<{ type: TaskType; id: string }>): Promise<ScheduleHash[]> {
    // Separate commands, sent together: the hashes are in their types' slots (other nodes on a cluster).
    return (await Promise.all(refs.map(({ type, id }) => this.redis.hgetall(this.keys.schedule(type, id))))) as ScheduleHash[];
  }

}

/** The schedule object from BullMQ's scheduler record and the engine's hash; null for a scheduler the engine did not make. */
function scheduleFrom(scheduler: JobSchedulerJson, hash: ScheduleHash): ScheduleObject | null {
  if (!hash.task || !hash.created_at) return null;
  return {
    id: scheduler.key,
    name: hash.name ?? scheduler.name,
    cron: scheduler.pattern ?? null,
    timezone: scheduler.pattern ? (scheduler.tz ?? null) : null,
    every_seconds: scheduler.every ? scheduler.every / 1000 : null,
    task: JSON.parse(hash.task) as ScheduledTask,
    created_at: iso(hash.created_at)!,
    next_run_at: iso(scheduler.next),
    last_run_at: iso(hash.last_run_at),
    runs: Number(hash.runs ?? 0),
  };
}
