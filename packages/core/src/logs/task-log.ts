// A task's own log (CONTRACT section 7, GET /tasks/{id}/logs): the lines its executor writes through
// `ctx.log`, kept in Redis beside the task (keys.taskLog: BullMQ's per-job log list, in the type's
// hash tag) as a capped list of the newest lines, and removed with the task.
//
// The hot path pays nothing for it: a writer exists only once an attempt logs its first line, lines
// are buffered and written in one round trip per FLUSH_MS, and the worker closes the writer (a last
// write) before the attempt's outcome moves the task, so a task's lines are there when its final
// status is.
import type { RedisClient } from '../redis/connection.js';
import type { Config } from '../config/schema.js';
import { TASK_LOG_LEVELS, type TaskLogLevel, type TaskLogLine } from '../contracts/live.js';
import { maskSecrets } from '../logger.js';

export type TaskLogLimits = Config['logging']['task_log'];

const FLUSH_MS = 100;

/**
 * How a line is stored: `<ISO time> <level> attempt=<n> <message>`, readable as it is in the
 * dashboard's Logs tab, and read back exactly (the message is everything after the third space).
 */
const STORED_LINE = new RegExp(`^(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z) (${TASK_LOG_LEVELS.join('|')}) attempt=(\\d+) ([\\s\\S]*)$`);

export function formatStoredLine(timeMs: number, level: TaskLogLevel, attempt: number, message: string): string {
  return `${new Date(timeMs).toISOString()} ${level} attempt=${attempt} ${message}`;
}

export function parseStoredLine(line: string): TaskLogLine {
  const match = STORED_LINE.exec(line);
  if (!match) return { time: null, level: 'info', message: line, attempt: null };
  return { time: match[1]!, level: match[2] as TaskLogLevel, attempt: Number(match[3]), message: match[4]! };
}

/** Errors in fields would turn into `{}` as JSON: keep what they say. */
const errorsAsText = (_key: string, value: unknown): unknown => (value instanceof Error ? `${value.name}: ${value.message}` : value);

/**
 * The message, then its fields as JSON with secret-looking ones masked as the process logs mask them,
 * cut at `maxLength` characters (never inside a surrogate pair) with a note saying how much went.
 */
export function logMessage(message: unknown, meta: Record<string, unknown> | undefined, maxLength: number): string {
  let text = typeof message === 'string' ? message : String(message);
  if (meta && typeof meta === 'object' && Object.keys(meta).length > 0) {
    try {
      // To JSON first (errors as their text, toJSON honoured), then masked as the process logs mask.
      text += ` ${JSON.stringify(maskSecrets(JSON.parse(JSON.stringify(meta, errorsAsText))))}`;
    } catch {
      text += ' [fields not serialisable]';
    }
  }
  if (text.length <= maxLength) return text;
  const note = ` … [${text.length - maxLength} more characters cut]`;
  let end = Math.max(0, maxLength - note.length);
  if (end > 0 && /[\uD800-\uDBFF]/.test(text[end - 1]!)) end--;
  return text.slice(0, end) + note;
}

/** Collects one attempt's lines and writes them in batches; see the file comment. */
export class TaskLogWriter {
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly attempt: number,
    private readonly limits: TaskLogLimits,
    /** Told when Redis refused a write (the lines are dropped; the task goes on). */
    private readonly onWriteError: (err: Error) => void,
  ) {}

  add(level: TaskLogLevel, message: unknown, meta?: Record<string, unknown>): void {
    // Lines of a handler abandoned at its timeout or cancel, arriving after the attempt ended, are not kept.
    if (this.closed) return;
    this.pending.push(formatStoredLine(Date.now(), level, this.attempt, logMessage(message, meta, this.limits.max_line_length)));
    // Only the newest max_lines survive the trim anyway: a handler logging in a tight loop holds no more.
    if (this.pending.length > this.limits.max_lines) this.pending.splice(0, this.pending.length - this.limits.max_lines);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, FLUSH_MS);
  }

  /** Writes what is pending and refuses later lines; resolves when every write has landed (or failed). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.write();
    await this.writing;
  }

  private write(): void {
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    // One write at a time, so lines land in the order they were logged.
    this.writing = this.writing.then(async () => {
      try {
        const results = await this.redis.multi().rpush(this.key, ...lines).ltrim(this.key, -this.limits.max_lines, -1).exec();
        const refused = results?.find(([err]) => err)?.[0];
        if (refused) throw refused;
      } catch (err) {
        this.onWriteError(err as Error);
      }
    });
  }
}

/** The task's stored lines, oldest first. */
export async function readTaskLog(redis: RedisClient, key: string): Promise<TaskLogLine[]> {
  return (await redis.lrange(key, 0, -1)).map(parseStoredLine);
}
