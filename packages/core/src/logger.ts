// Winston logger: JSON lines by default (one object per line, for log shippers), text for people.
// Fields whose names look secret are masked wherever they appear, so a stray `api_key` never lands in
// a log. Task lines carry `task_id` and `type` (use `taskLogger`).
import winston from 'winston';
import type { Config } from './config/schema.js';
import type { TaskLogLevel } from './contracts/live.js';
import type { TaskLog } from './executor.js';

export type Logger = winston.Logger;

const SECRET_KEY = /(pass(word)?|secret|token|api[_-]?key|authorization|cookie)/i;

/** A copy of `value` with every field whose name looks secret replaced by `[redacted]`, at any depth up to 6. */
export function maskSecrets(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : maskSecrets(inner, depth + 1);
  }
  return out;
}

const redactSecrets = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message') continue;
    info[key] = SECRET_KEY.test(key) ? '[redacted]' : maskSecrets(info[key]);
  }
  return info;
});

export function createLogger(config: { logging: Pick<Config['logging'], 'level' | 'format'> }, service: string): Logger {
  const format =
    config.logging.format === 'text'
      ? winston.format.combine(redactSecrets(), winston.format.timestamp(), winston.format.simple())
      : winston.format.combine(redactSecrets(), winston.format.timestamp(), winston.format.json());
  return winston.createLogger({
    level: config.logging.level,
    defaultMeta: { service },
    format,
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

/** Where a task's lines go besides the process log (the task's own log, logs/task-log.ts). */
export type TaskLogSink = (level: TaskLogLevel, message: string, meta?: Record<string, unknown>) => void;

/**
 * A task's log: every line carries `task_id` and `type`. A line below the logger's level costs one
 * check: winston would otherwise format it (timestamp, JSON) before its transport drops it, on the
 * hot path of every task. With a sink, every line also goes there, whatever the process's level.
 */
export function taskLogger(logger: Logger, task: { id: string; type: string }, sink?: TaskLogSink): TaskLog {
  const at =
    (level: TaskLogLevel) =>
    (message: string, meta?: Record<string, unknown>): void => {
      sink?.(level, message, meta);
      if (logger.isLevelEnabled(level)) logger.log(level, message, { task_id: task.id, type: task.type, ...meta });
    };
  return Object.assign(at('info'), { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') });
}
