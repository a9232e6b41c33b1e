// The one zod object that parses all of config.yaml (CONTRACT section 5). Every process parses it at
// boot and stops on the first bad file, naming each bad key. Durations are seconds unless named _ms.
import { z } from 'zod';

export const TASK_TYPES = [
  'ai_inference',
  'data_processing',
  'file_operation',
  'network_request',
  'system_command',
  'custom',
] as const;
export const TaskType = z.enum(TASK_TYPES);
export type TaskType = z.infer<typeof TaskType>;

const seconds = z.number().positive();
const count = z.number().int().nonnegative();

/**
 * One sentinel: the YAML and REDIS_SENTINELS spell it "host:port" (or "[v6]:port"); { host, port } is
 * accepted too. One parser for both, so a bad entry gets a message saying what was expected rather than
 * a union's "Invalid input".
 */
const SentinelAddress = z.unknown().transform((value, ctx): { host: string; port: number } => {
  const entry =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? `${String((value as Record<string, unknown>).host ?? '')}:${String((value as Record<string, unknown>).port ?? '')}`
      : String(value);
  const match = /^\[?([^\]\s]+?)\]?:(\d{1,5})$/.exec(entry.trim());
  const port = match ? Number(match[2]) : 0;
  if (!match || port < 1 || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected "host:port" or { host, port }, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return { host: match[1]!, port };
});

const PerTypeDefaults = z
  .object({
    default_timeout: seconds.optional(),
    max_retries: z.number().int().min(0).max(25).optional(),
    retry_delay: z.number().nonnegative().optional(),
  })
  .strict();

export const RateLimit = z
  .object({
    max: z.number().int().positive(),
    // BullMQ keeps the window as a key's expiry in whole milliseconds (rateLimitWindowMs rounds).
    duration_seconds: z.number().min(0.001, 'at least 0.001 (one millisecond)'),
  })
  .strict();
export type RateLimit = z.infer<typeof RateLimit>;

/** The window of a rate limit in the whole milliseconds BullMQ takes. */
export const rateLimitWindowMs = (limit: RateLimit): number => Math.round(limit.duration_seconds * 1000);

/** A map keyed by task type; unknown type names are errors, not silently ignored. */
function byType<T extends z.ZodType>(value: T) {
  return z.partialRecord(TaskType, value);
}

export const Config = z
  .object({
    node: z
      .object({
        id: z.string().default('02'),
        name: z.string().default('TaskEngine'),
      })
      .strict()
      .default({ id: '02', name: 'TaskEngine' }),
    server: z
      .object({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(8002),
        body_limit: z.union([z.string(), z.number()]).default('1mb'),
        cancel_wait_seconds: z.number().nonnegative().default(5),
        /** Live event streams (GET /tasks/{id}/events, GET /events). */
        events: z
          .object({
            /** A `: ping` comment this often keeps proxies from closing a quiet stream. */
            heartbeat_seconds: seconds.default(15),
          })
          .strict()
          .prefault({}),
        rate_limit: z
          .object({
            enabled: z.boolean().default(false),
            window_seconds: seconds.default(60),
            max: z.number().int().positive().default(600),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        mode: z.enum(['standalone', 'cluster', 'sentinel']).default('standalone'),
        url: z.string().default('redis://127.0.0.1:6379'),
        prefix: z
          .string()
          .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only')
          .default('taskengine'),
        /**
         * Cluster mode: seed nodes ("host:port" or redis:// URLs); the client learns the rest of the
         * cluster from any of them. Without it, `url` is the one seed.
         */
        nodes: z.array(z.string().regex(/^(rediss?:\/\/\S+|[^\s:/]+:\d+|\[[0-9a-fA-F:.]+\]:\d+)$/, 'expected "host:port" or a redis:// URL')).min(1).optional(),
        /** Sentinel mode: the sentinels to ask for the master ("host:port" or { host, port }). */
        sentinels: z.array(SentinelAddress).optional(),
        /** Sentinel mode: the master's name, as in `sentinel monitor <name> ...`. */
        name: z.string().min(1).optional(),
        /** Sentinel mode: the sentinels' own password (`requirepass` in sentinel.conf), if any. */
        sentinel_password: z.string().optional(),
        /** The data nodes' password (and `db`): in standalone mode they override those in `url`. */
        password: z.string().optional(),
        db: z.number().int().nonnegative().optional(),
        /**
         * Acknowledge a create (and a retry, a schedule) only once this many replicas have it: Redis's
         * `WAIT` after the write (store/replica-acknowledgement.ts). 0 (the default): answer as soon as
         * the master has it; asynchronous replication may then lose the last writes if the master dies.
         */
        wait_replicas: count.default(0),
        /** How long a write waits for those replicas before the API answers 503 (the write stays on the master). */
        wait_timeout_ms: z.number().int().min(1).max(60_000).default(1000),
      })
      .strict()
      .superRefine((redis, ctx) => {
        // In a cluster, WAIT counts the replicas of the one node the connection it is sent on talks
        // to, and a create writes to the slot of its task type, which another node may own (a batch of
        // several types, several nodes). Confirming it would take one WAIT per written shard, each on
        // the connection to that shard's master, after each shard's own write: not built. Refused
        // rather than silently waiting on whichever node ioredis picks for a keyless command.
        if (redis.mode === 'cluster' && redis.wait_replicas > 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['wait_replicas'],
            message:
              'not supported in cluster mode (WAIT only counts the replicas of the node it is sent to, not of the shards a create writes to); set it to 0 and use min-replicas-to-write on each shard',
          });
        }
        if (redis.mode !== 'sentinel') return;
        if (!redis.sentinels?.length) {
          ctx.addIssue({ code: 'custom', path: ['sentinels'], message: 'sentinel mode needs at least one sentinel ("host:port")' });
        }
        if (!redis.name) {
          ctx.addIssue({ code: 'custom', path: ['name'], message: 'sentinel mode needs the master name the sentinels monitor' });
        }
      })
      .prefault({}),
    logging: z
      .object({
        level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
        format: z.enum(['json', 'text']).default('json'),
        /** Each task's own log (`ctx.log`, GET /tasks/{id}/logs), kept in Redis with the task. */
        task_log: z
          .object({
            /** The newest lines kept per task. */
            max_lines: z.number().int().positive().default(1000),
            /** Characters of one line; a longer line is cut and says so. */
            max_line_length: z.number().int().min(100).default(2000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    tasks: z
      .object({
        default_timeout: seconds.default(300),
        max_timeout: seconds.default(86400),
        max_retries: z.number().int().min(0).max(25).default(3),
        retry_delay: z.number().nonnegative().default(5),
        max_batch_size: z.number().int().positive().default(1000),
        max_age_hours: seconds.default(24),
        failed_max_age_hours: seconds.default(168),
        per_type: byType(PerTypeDefaults).default({}),
      })
      .strict()
      .prefault({}),
    workers: z
      .object({
        max_concurrent: z.number().int().positive().default(10),
        concurrency: byType(z.number().int().positive()).default({}),
        heartbeat_interval: seconds.default(5),
        shutdown_grace: z.number().nonnegative().default(30),
        lock_duration: seconds.default(30),
        stalled_interval: seconds.default(30),
        max_stalled_count: count.default(1),
        /**
         * Most tasks of a type started per `duration_seconds`, across every worker process: BullMQ's
         * limiter counts starts in one Redis key per queue, so workers share it (each must be given the
         * same figures, as they are when they read one config.yaml).
         */
        rate_limits: byType(RateLimit).default({}),
      })
      .strict()
      .prefault({}),
    health_check: z
      .object({ interval: seconds.default(30) })
      .strict()
      .prefault({}),
    dependencies: z
      .object({
        state_machine: z
          .object({ url: z.string().default('http://localhost:8000'), enabled: z.boolean().default(true) })
          .strict()
          .prefault({}),
        oneapi: z
          .object({
            /** Off: ai_inference is refused (403) and /health does not watch OneAPI. */
            enabled: z.boolean().default(true),
            url: z.string().default('http://localhost:8001'),
            provider: z.string().nullable().default(null),
            timeout: seconds.default(120),
            api_key: z.string().optional(),
            /** The largest answer read from OneAPI; a longer one fails the task rather than filling memory. */
            max_response_bytes: z.number().int().positive().default(10_485_760),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    executors: z
      .object({
        system_command: z
          .object({
            enabled: z.boolean().default(true),
            allowed_commands: z
              .array(
                z
                  .string()
                  .min(1)
                  .refine((entry) => !entry.includes('/') || entry.startsWith('/'), {
                    message: 'must be a program name (looked up on PATH) or an absolute path',
                  }),
              )
              .default(['echo', 'date', 'ls', 'cat', 'sleep', 'uname', 'wc', 'head', 'tail', 'sort']),
            workdir: z.string().default('./data/work'),
            max_output_bytes: z.number().int().positive().default(1_048_576),
            /** Between SIGTERM and SIGKILL when a command's process group is stopped; 0: SIGKILL at once. */
            kill_grace_seconds: z.number().nonnegative().default(2),
          })
          .strict()
          .prefault({}),
        file_operation: z
          .object({
            /** The only folder file_operation and data_processing may touch. */
            root: z.string().default('./data/files'),
            /** A read over this fails with file_too_large: read results are stored in Redis. */
            max_read_bytes: z.number().int().positive().default(10_485_760),
            /** `list` stops here and answers `truncated: true`. */
            max_list_entries: z.number().int().positive().default(10_000),
          })
          .strict()
          .prefault({}),
        data_processing: z
          .object({
            /** JSON size of an inline result (it is stored in Redis); over it, output_too_large asks for a destination. */
            max_inline_output_bytes: z.number().int().positive().default(1_048_576),
            /** Items a `sort` may hold in memory (sort followed by limit keeps only offset + n). */
            max_buffered_items: z.number().int().positive().default(100_000),
            /** Groups of a `group_by`, keys of a `distinct`. */
            max_groups: z.number().int().positive().default(100_000),
            /** One source item (an NDJSON line, a CSV record, a JSON array element, roughly). */
            max_item_bytes: z.number().int().positive().default(1_048_576),
          })
          .strict()
          .prefault({}),
        network_request: z
          .object({
            allowed_hosts: z.array(z.string().min(1)).default([]),
            max_response_bytes: z.number().int().positive().default(1_048_576),
            max_redirects: count.default(5),
          })
          .strict()
          .prefault({}),
        custom: z
          .object({
            handlers: z
              .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'handler names: 1-64 letters, digits, _ . -'), z.string().min(1))
              .default({}),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        api_keys: z
          .array(
            z.union([
              z.string().min(1),
              z
                .object({
                  key: z.string().min(1).optional(),
                  key_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'the hex SHA-256 of the key (64 lowercase hex digits)').optional(),
                  name: z.string().min(1).optional(),
                  task_types: z.array(TaskType).min(1).optional(),
                })
                .strict()
                .refine((entry) => (entry.key === undefined) !== (entry.key_sha256 === undefined), {
                  message: 'give exactly one of key and key_sha256',
                }),
            ]),
          )
          .default([]),
      })
      .strict()
      .prefault({}),
    dashboard: z
      .object({
        enabled: z.boolean().default(true),
        path: z.string().startsWith('/').default('/admin/queues'),
        /** false lets operators pause/resume queues and promote delayed tasks there; nothing else (dashboard.ts). */
        read_only: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof Config>;
