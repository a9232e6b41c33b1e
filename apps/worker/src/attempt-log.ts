// The executor's `ctx.log` for one attempt: each line goes to the process log and to the task's own log
// in Redis (GET /tasks/{id}/logs). Made on first use, like ctx.signal: an executor that never logs
// costs its task nothing, not even the logger's closures. The runner ends it before the attempt's
// outcome moves the task, so the lines are stored by the time the task's status shows that outcome.
import {
  type Logger,
  type RedisClient,
  type TaskLog,
  taskLogger,
  type TaskLogLevel,
  type TaskLogLimits,
  TaskLogWriter,
  type TaskType,
} from '@taskengine/core';

export interface AttemptLogTarget {
  id: string;
  type: TaskType;
  /** The task's log key (TaskKeys.taskLog). */
  key: string;
  /** The run this is: retry_count + 1 while it runs. */
  attempt: number;
}

export class AttemptLog {
  private log: TaskLog | undefined;
  private writer: TaskLogWriter | undefined;
  private ended = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly logger: Logger,
    private readonly limits: TaskLogLimits,
    private readonly target: AttemptLogTarget,
  ) {}

  get taskLog(): TaskLog {
    this.log ??= taskLogger(this.logger, this.target, (level, message, meta) => this.record(level, message, meta));
    return this.log;
  }

  /** Stores what is buffered; later lines (an abandoned handler's) go to the process log only. Undefined when nothing was logged. */
  end(): Promise<void> | undefined {
    this.ended = true;
    return this.writer?.close();
  }

  private record(level: TaskLogLevel, message: string, meta?: Record<string, unknown>): void {
    if (this.ended) return;
    this.writer ??= new TaskLogWriter(this.redis, this.target.key, this.target.attempt, this.limits, (err) =>
      this.logger.warn('task log lines dropped: RedisClient refused them', { task_id: this.target.id, type: this.target.type, error: err.message }),
    );
    this.writer.add(level, message, meta);
  }
}
