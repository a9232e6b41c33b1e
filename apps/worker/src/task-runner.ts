// Runs one attempt of one task inside a BullMQ Worker: checks the payload, arms the timeout, gives the
// executor its AbortSignal, and turns the way the attempt ended into what BullMQ must do next:
// completed; retried (plain Error); failed for good (UnrecoverableError); handed back (WaitingError).
import {
  defineEngineCommands,
  dependencyResults,
  encodeFailure,
  type EngineRedis,
  type ExecutionContext,
  FAILED_RESULT_FIELD,
  type Logger,
  payloadErrorCode,
  type RedisClient,
  type RetryHint,
  TaskError,
  type TaskJobData,
  type TaskKeys,
  type TaskLog,
  taskLogger,
  type TaskLogLimits,
  type TaskType,
  type TaskTypeDefinition,
  zodDetails,
} from '@taskengine/core';
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { AttemptAborted } from './abort-reason.js';
import { AttemptLog } from './attempt-log.js';
import { LOCK_LOST_LOG } from './lock-loss.js';

export interface ActiveAttempt {
  id: string;
  type: TaskType;
  /**
   * Ends the attempt now: aborts its signal (when the handler asked for one) and stops waiting for the
   * handler, so one that ignores its signal is abandoned. False when it was already ended.
   */
  end(reason: AttemptAborted): boolean;
}

const PROGRESS_EVERY_MS = 250;

export class TaskRunner {
  /** Attempts running in this process, by task id. */
  readonly active = new Map<string, ActiveAttempt>();
  private readonly redis: EngineRedis;

  constructor(
    redis: RedisClient,
    private readonly keys: TaskKeys,
    private readonly logger: Logger,
    private readonly logLimits: TaskLogLimits,
  ) {
    this.redis = defineEngineCommands(redis);
  }

  /** Aborts one running attempt; false when this process does not run it or it already ended. */
  abort(id: string, reason: AttemptAborted): boolean {
    return this.active.get(id)?.end(reason) ?? false;
  }

  abortAll(reason: AttemptAborted): void {
    for (const id of this.active.keys()) this.abort(id, reason);
  }

  processorFor(definition: TaskTypeDefinition): (job: Job, token?: string) => Promise<unknown> {
    return (job, token) => this.run(definition, job, token);
  }

  private async run(definition: TaskTypeDefinition, job: Job, token: string | undefined): Promise<unknown> {
    const type = definition.type;
    const id = job.id!;
    const data = job.data as TaskJobData;
    // The runner's own lines go to the process log only; the executor's (ctx.log) to the task's log too.
    const log = taskLogger(this.logger, { id, type });
    const attemptLog = new AttemptLog(this.redis, this.logger, this.logLimits, { id, type, key: this.keys.taskLog(type, id), attempt: job.attemptsStarted });
    // The AbortController is made only when the handler reads ctx.signal (quick handlers never do), and
    // the handler races a promise rather than an 'abort' listener: both cut per-task CPU on the hot path.
    let controller: AbortController | undefined;
    let abortReason: AttemptAborted | undefined;
    let abandon!: (reason: AttemptAborted) => void;
    const abandoned = new Promise<never>((_, reject) => (abandon = reject));
    abandoned.catch(() => {}); // observed by the race below
    this.active.set(id, {
      id,
      type,
      end(reason) {
        if (abortReason) return false;
        abortReason = reason;
        controller?.abort(reason);
        abandon(reason);
        return true;
      },
    });
    const signal = (): AbortSignal => {
      controller ??= new AbortController();
      if (abortReason && !controller.signal.aborted) controller.abort(abortReason);
      return controller.signal;
    };
    const timeoutMs = Math.max(1, Math.round(data.timeout_seconds * 1000));
    const timer = setTimeout(
      () => this.abort(id, new AttemptAborted('timeout', `attempt ran past timeout_seconds (${data.timeout_seconds}s)`)),
      timeoutMs,
    );
    const progress = this.progressReporter(job);
    try {
      const parsed = definition.payloadSchema.safeParse(data.payload);
      if (!parsed.success) {
        const problems = zodDetails(parsed.error, 'payload.').map((d) => `${d.path}: ${d.message}`);
        throw new TaskError(payloadErrorCode(parsed.error), `payload no longer valid: ${problems.join('; ')}`, { retryable: false });
      }
      const ctx: ExecutionContext = {
        get signal() {
          return signal();
        },
        dependencies: data.dependencies?.length ? await dependencyResults(this.redis, this.keys, data.dependencies) : {},
        progress: progress.report,
        get log() {
          return attemptLog.taskLog;
        },
        task: {
          id,
          type,
          name: job.name,
          attempt: job.attemptsMade + 1,
          timeout_seconds: data.timeout_seconds,
          metadata: data.metadata ?? {},
        },
      };
      log.debug('attempt started', { attempt: ctx.task.attempt });
      // A handler that throws synchronously lands in the catch below like one that rejects.
      const result = await Promise.race([definition.execute(parsed.data, ctx), abandoned]);
      // Progress and log lines land before BullMQ moves the task, so they are there with its status.
      await progress.flush();
      await attemptLog.end();
      return result ?? null;
    } catch (err) {
      await progress.flush().catch(() => {});
      await attemptLog.end();
      throw await this.failure(job, token, abortReason ?? err, log);
    } finally {
      clearTimeout(timer);
      this.active.delete(id);
    }
  }

  /** Decides what BullMQ does with a failed attempt, recording what counts need first. */
  private async failure(job: Job, token: string | undefined, err: unknown, log: TaskLog): Promise<Error> {
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (err instanceof AttemptAborted) {
      if (err.kind === 'lock_lost') {
        // Another worker owns the task now: leave it alone (WaitingError makes BullMQ skip the move,
        // which the lock would refuse anyway) and let that worker's attempt decide its outcome.
        log.warn('attempt abandoned: its lock was lost, another worker runs the task now');
        return new WaitingError();
      }
      if (err.kind === 'cancel') {
        if (await this.markOutcome(job, token, 'cancelled')) log.info('task cancelled while running');
        return new UnrecoverableError(encodeFailure('cancelled', 'Cancelled by client'));
      }
      if (err.kind === 'shutdown') {
        // Hand the task back untouched so another worker runs it now rather than after the lock expires.
        await job.moveToWait(token);
        log.info('task handed back at shutdown');
        return new WaitingError();
      }
      if (lastAttempt) await this.markOutcome(job, token, 'timeout');
      log.warn('attempt timed out', { attempt: job.attemptsMade + 1, final: lastAttempt });
      return new Error(encodeFailure('timeout', err.message));
    }
    if (err instanceof TaskError) {
      // A final `dependency_failed` means `cancelled` wherever the status is read (list and cancel scripts
      // go by the reason): the count must agree, so it gets the cancelled mark as the engine's own does.
      const cancelledByDependency = err.code === 'dependency_failed' && (!err.retryable || lastAttempt);
      if (err.result !== undefined || cancelledByDependency) {
        await this.markOutcome(job, token, cancelledByDependency ? 'cancelled' : '', err.result === undefined ? '' : JSON.stringify(err.result));
      }
      log.warn('attempt failed', { error_code: err.code, error: err.message, retryable: err.retryable });
      const reason = encodeFailure(err.code, err.message);
      if (!err.retryable) return new UnrecoverableError(reason);
      // The back-off strategy (worker-service) reads the hint off the error BullMQ hands it.
      const retry: Error & RetryHint = new Error(reason);
      retry.retryAfterMs = err.retryAfterMs;
      return retry;
    }
    const message = err instanceof Error ? err.message : String(err);
    log.warn('attempt failed', { error_code: 'handler_error', error: message });
    return new Error(encodeFailure('handler_error', message));
  }

  /**
   * Records, before BullMQ moves the job, what counts and the task object need beside the move: the
   * side entry of a final cancel or timeout, a failed attempt's result. Only while this worker still
   * holds the lock (mark-outcome-5.lua): a worker cut off from Redis past the lock duration lost the
   * task to another one, and its late writes would miscount a task that is now someone else's.
   * False when the lock was lost (nothing written; BullMQ's move will be refused too).
   */
  private async markOutcome(job: Job, token: string | undefined, outcome: 'cancelled' | 'timeout' | '', result = ''): Promise<boolean> {
    const type = this.typeOf(job);
    const id = job.id!;
    const jobKey = this.keys.job(type, id);
    const written = await this.redis.te_markOutcome(
      jobKey, `${jobKey}:lock`, this.keys.cancelled(type), this.keys.timedOut(type), this.keys.cancelRequests(type),
      token ?? '0', id, Date.now(), outcome, result, FAILED_RESULT_FIELD,
    );
    if (!written) this.logger.warn(LOCK_LOST_LOG, { task_id: id, type });
    return written === 1;
  }

  private typeOf(job: Job): TaskType {
    return job.queueName.slice(1, -1) as TaskType;
  }

  /** Progress updates go to Redis at most every 250 ms; the last value always lands. */
  private progressReporter(job: Job): { report: (percent: number) => void; flush: () => Promise<void> } {
    let latest: number | undefined;
    let sent: number | undefined;
    let lastSentAt = 0;
    let inFlight: Promise<void> = Promise.resolve();
    const send = (): void => {
      if (latest === undefined || latest === sent) return;
      const value = latest;
      sent = value;
      lastSentAt = Date.now();
      inFlight = inFlight.then(() => job.updateProgress(value)).catch(() => {});
    };
    let timer: NodeJS.Timeout | undefined;
    return {
      report: (percent) => {
        if (!Number.isFinite(percent)) return;
        latest = Math.max(0, Math.min(100, Math.round(percent)));
        if (Date.now() - lastSentAt >= PROGRESS_EVERY_MS) send();
        else timer ??= setTimeout(() => {
          timer = undefined;
          send();
        }, PROGRESS_EVERY_MS);
      },
      flush: async () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        send();
        await inFlight;
      },
    };
  }
}
