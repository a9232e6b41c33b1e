// One worker process: a BullMQ Worker per task type it serves, the task runner, the cancel watcher,
// heartbeats into the worker registry, batched statistics and the retention janitor. `main.ts` boots
// it; tests start it in-process too.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  type Config,
  type Ending,
  type ExecutorRegistry,
  finalStatusOfFailure,
  fromBullPriority,
  type Logger,
  type Priority,
  rateLimitWindowMs,
  type RedisClient,
  RetentionJanitor,
  retryBackoff,
  StatsRecorder,
  TaskKeys,
  type TaskType,
  type WorkerRecord,
  WorkerRegistry,
  WorkflowCoordinator,
} from '@taskengine/core';
import { Worker, type Job } from 'bullmq';
import { AttemptAborted } from './abort-reason.js';
import { CancelWatcher } from './cancel-watcher.js';
import { LOCK_LOST_LOG, lockLostTaskId } from './lock-loss.js';
import { ScheduledRuns } from './scheduled-runs.js';
import { TaskRunner } from './task-runner.js';

export interface WorkerServiceOptions {
  config: Config;
  redis: RedisClient;
  executors: ExecutorRegistry;
  logger: Logger;
  types: TaskType[];
  concurrencyByType: Partial<Record<TaskType, number>>;
}

export class WorkerService {
  readonly workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly keys: TaskKeys;
  private readonly runner: TaskRunner;
  private readonly scheduledRuns: ScheduledRuns;
  private readonly cancels: CancelWatcher;
  private readonly registry: WorkerRegistry;
  private readonly stats: StatsRecorder;
  private readonly janitor: RetentionJanitor;
  private readonly workflows: WorkflowCoordinator;
  /** Follow-up work of ended tasks still in flight; stop() lets it finish. */
  private readonly followUps = new Set<Promise<void>>();
  private readonly workers: Worker[] = [];
  private readonly startedAt = new Date().toISOString();
  private state: 'idle' | 'busy' | 'stopping' = 'idle';
  private completed = 0;
  private failed = 0;
  private lastActivity: string | null = null;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: WorkerServiceOptions) {
    const { config, redis, logger } = options;
    this.keys = new TaskKeys(config.redis.prefix);
    this.runner = new TaskRunner(redis, this.keys, logger, config.logging.task_log);
    this.scheduledRuns = new ScheduledRuns(redis, this.keys, logger);
    this.cancels = new CancelWatcher(redis, this.keys, this.runner, logger);
    this.registry = new WorkerRegistry(redis, this.keys, config.workers.heartbeat_interval);
    this.stats = new StatsRecorder(redis, this.keys);
    this.janitor = new RetentionJanitor(redis, this.keys, config, undefined, undefined, logger);
    this.workflows = new WorkflowCoordinator(redis, this.keys);
  }

  async start(): Promise<void> {
    const { config, redis, executors, logger, types, concurrencyByType } = this.options;
    const served = types.flatMap((type) => {
      const definition = executors[type];
      if (!definition) logger.warn('no executor for this task type in this build; not consuming its queue', { type });
      return definition ? [definition] : [];
    });
    await Promise.all(served.map((definition) => definition.prepare?.()));
    await this.cancels.start();
    for (const definition of served) {
      const type = definition.type;
      const rateLimit = config.workers.rate_limits[type];
      const processor = this.scheduledRuns.booking(type, this.runner.processorFor(definition));
      const worker = new Worker(this.keys.queueName(type), processor, {
        connection: redis,
        prefix: config.redis.prefix,
        name: this.workerId,
        concurrency: concurrencyByType[type] ?? config.workers.max_concurrent,
        lockDuration: config.workers.lock_duration * 1000,
        stalledInterval: config.workers.stalled_interval * 1000,
        maxStalledCount: config.workers.max_stalled_count,
        removeOnComplete: { count: -1 },
        removeOnFail: { count: -1 },
        settings: { backoffStrategy: retryBackoff },
        // BullMQ counts starts in one Redis key per queue, so the limit holds across every worker.
        ...(rateLimit ? { limiter: { max: rateLimit.max, duration: rateLimitWindowMs(rateLimit) } } : {}),
      });
      worker.on('completed', (job) => this.onCompleted(type, job));
      worker.on('failed', (job, err) => job && this.onFailed(type, job, err));
      worker.on('error', (err) => this.onQueueError(type, err));
      // A renewal refused means another worker owns the task now (its link was cut past the lock
      // duration): stop this attempt's work at once rather than run it beside the new owner.
      worker.on('lockRenewalFailed', (ids) => {
        for (const id of ids) this.runner.abort(id, new AttemptAborted('lock_lost', 'the task lock was lost'));
      });
      this.workers.push(worker);
    }
    this.stats.start();
    this.janitor.start();
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.heartbeat().catch(() => {}), config.workers.heartbeat_interval * 1000);
    this.heartbeatTimer.unref();
    logger.info('worker started', { worker_id: this.workerId, task_types: this.workers.map((w) => w.name) });
  }

  private onQueueError(type: TaskType, err: Error): void {
    const { logger } = this.options;
    const taskId = lockLostTaskId(err);
    // BullMQ refuses the move of a task whose lock was lost and then emits no 'completed' / 'failed'
    // event, so nothing is counted for it here: the counts are the new owner's.
    if (taskId) logger.warn(LOCK_LOST_LOG, { type, task_id: taskId, error: err.message });
    else logger.warn('queue connection problem', { type, error: err.message });
  }

  private onCompleted(type: TaskType, job: Job): void {
    this.completed++;
    this.lastActivity = new Date().toISOString();
    this.stats.recordFinal(type, 'completed', priorityOf(job), execMs(job), waitMs(job));
    this.settleEnd(type, job, 'completed');
  }

  private onFailed(type: TaskType, job: Job, err: Error): void {
    this.lastActivity = new Date().toISOString();
    if (!job.finishedOn) {
      this.stats.recordRetry(type);
      return;
    }
    this.failed++;
    const outcome = finalStatusOfFailure(err.message);
    this.stats.recordFinal(type, outcome, priorityOf(job), execMs(job), waitMs(job));
    this.settleEnd(type, job, outcome);
  }

  /**
   * Tells the task's dependents and its batch gate that it ended (most tasks have neither: one grouped
   * lookup). Not awaited by BullMQ; if this process dies first, the janitor redoes it.
   */
  private settleEnd(type: TaskType, job: Job, ending: Ending): void {
    const work: Promise<void> = this.workflows
      .ended(type, job.id!, ending)
      .catch((err: Error) => {
        this.options.logger.warn('settling the dependents of an ended task failed; the janitor will redo it', { type, task_id: job.id, error: err.message });
      })
      .finally(() => this.followUps.delete(work));
    this.followUps.add(work);
  }

  record(): WorkerRecord {
    const { config, types, concurrencyByType } = this.options;
    const current = [...this.runner.active.keys()];
    const byType = Object.fromEntries(types.map((type) => [type, concurrencyByType[type] ?? config.workers.max_concurrent]));
    return {
      worker_id: this.workerId,
      hostname: hostname(),
      pid: process.pid,
      task_types: types,
      concurrency: Object.values(byType).reduce((sum, n) => sum + n, 0),
      concurrency_by_type: byType,
      status: this.state === 'stopping' ? 'stopping' : current.length > 0 ? 'busy' : 'idle',
      active_tasks: current.length,
      current_tasks: current,
      current_task: current[0] ?? null,
      completed_tasks: this.completed,
      failed_tasks: this.failed,
      started_at: this.startedAt,
      last_activity: this.lastActivity,
      last_heartbeat: new Date().toISOString(),
    };
  }

  private async heartbeat(): Promise<void> {
    await this.registry.heartbeat(this.record());
  }

  /**
   * Graceful stop: take no new work, let running attempts finish within `workers.shutdown_grace`,
   * then hand the rest back to the queue for other workers, and leave the registry.
   */
  stop(graceSeconds = this.options.config.workers.shutdown_grace): Promise<void> {
    this.stopping ??= (async () => {
      const { logger } = this.options;
      this.state = 'stopping';
      await this.heartbeat().catch(() => {});
      logger.info('worker stopping', { worker_id: this.workerId, active_tasks: this.runner.active.size, grace_seconds: graceSeconds });
      const grace = setTimeout(() => {
        logger.warn('shutdown grace over; handing running tasks back', { task_ids: [...this.runner.active.keys()] });
        this.runner.abortAll(new AttemptAborted('shutdown', 'worker shutting down'));
      }, graceSeconds * 1000);
      await Promise.all(this.workers.map((worker) => worker.close()));
      clearTimeout(grace);
      await Promise.all(this.followUps);
      if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
      await this.cancels.stop();
      await this.janitor.stop();
      await this.stats.stop().catch(() => {});
      await this.registry.remove(this.workerId).catch(() => {});
      logger.info('worker stopped', { worker_id: this.workerId });
    })();
    return this.stopping;
  }
}

const priorityOf = (job: Job): Priority => fromBullPriority(job.opts.priority ?? 3);

function execMs(job: Job): number | null {
  return job.finishedOn && job.processedOn ? job.finishedOn - job.processedOn : null;
}

function waitMs(job: Job): number | null {
  if (!job.processedOn) return null;
  // Never below 0: the API's and the worker's clocks may differ by a little, and a started task waited
  // at least nothing. Dropping such a figure would leave the wait histogram a count short of the others.
  return Math.max(0, job.processedOn - (job.timestamp + (job.opts.delay ?? 0)));
}
