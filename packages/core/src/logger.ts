// Winston logger: JSON lines by default (one object per line, for log shippers), text for people.
// Fields whose names look secret are masked wherever they appear, so a stray `api_key` never lands in
// a log. Task lines carry `task_id` and `type` (use `taskLogger`).
import winston from 'winston';
import type { Config } from './config/schema.js';
import type { TaskLog } from './executor.js';

export type Logger = winston.Logger;

const SECRET_KEY = /(pass(word)?|secret|token|api[_-]?key|authorization|cookie)/i;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(inner, depth + 1);
  }
  return out;
}

const redactSecrets = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message') continue;
    info[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(info[key]);
  }
  return info;
});

export function createLogger(config: Pick<Config, 'logging'>, service: string): Logger {
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

/**
 * A task's log: every line carries `task_id` and `type`. A line below the logger's level costs one
 * check: winston would otherwise format it (timestamp, JSON) before its transport drops it, on the
 * hot path of every task.
 */
export function taskLogger(logger: Logger, task: { id: string; type: string }): TaskLog {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, meta?: Record<string, unknown>): void => {
      if (logger.isLevelEnabled(level)) logger.log(level, message, { task_id: task.id, type: task.type, ...meta });
    };
  return Object.assign(at('info'), { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') });
}
