// `taskengine submit`: one task from flags or --file (POST /tasks), or many from --ndjson (POST
// /tasks/batch, in chunks of the server's batch size); --wait follows what was created.
import { TASK_TYPES } from '@taskengine/core/config/schema';
import { parsePriority, PRIORITY_NAMES } from '@taskengine/core/model/priority';
import { TaskEngineApiError } from '../../errors.js';
import type { CreateBatchResponse, TaskCreate } from '../../types.js';
import { defineCommand, numberOption, UsageError, waitTimeoutMs, type Context, type OptionValues } from '../command.js';
import { followTask, followTasks, EXIT_USAGE, type FollowOptions } from '../follow.js';
import { batchProblemsToLines, formatLineProblem, jsonObject, parseNdjson, readInput } from '../task-input.js';

/** Flags that make one task's body; not allowed with --ndjson. `schedules create` takes them too. */
export const TASK_FLAGS = {
  type: { type: 'string', short: 't', value: '<type>', description: `task type: ${TASK_TYPES.join(', ')}` },
  name: { type: 'string', value: '<name>', description: 'task name (default: the type)' },
  priority: { type: 'string', short: 'p', value: '<p>', description: `0-4 or ${PRIORITY_NAMES.join(', ')} (any case; default 2)` },
  payload: { type: 'string', value: '<json>', description: 'payload, a JSON object' },
  'payload-file': { type: 'string', value: '<path>', description: 'payload from a JSON file (- for stdin)' },
  metadata: { type: 'string', value: '<json>', description: 'metadata, a JSON object' },
  timeout: { type: 'string', value: '<seconds>', description: 'config.timeout_seconds: limit of each attempt' },
  retries: { type: 'string', value: '<n>', description: 'config.max_retries: retries after the first attempt (0-25)' },
  'retry-delay': { type: 'string', value: '<seconds>', description: 'config.retry_delay_seconds' },
  backoff: { type: 'string', value: '<kind>', description: 'config.backoff: fixed or exponential' },
  id: { type: 'string', value: '<id>', description: 'your own task id: submitting it again is idempotent' },
  delay: { type: 'string', value: '<seconds>', description: 'run no sooner than this many seconds from now' },
  at: { type: 'string', value: '<iso-time>', description: 'run no sooner than this time (scheduled_at)' },
} as const;

const DEFAULT_BATCH_SIZE = 1000;

type Values = OptionValues<typeof TASK_FLAGS>;

/** The body from --file (if any) with the flags applied over it. */
export async function bodyFromFlags(ctx: Context, values: Values & { file?: string }): Promise<TaskCreate> {
  const body: Record<string, unknown> = values.file ? jsonObject(await readInput(values.file, ctx.io, 'file'), 'file') : {};
  const config: Record<string, unknown> = { ...(body.config as Record<string, unknown> | undefined) };
  if (values.type !== undefined) body.type = values.type;
  if (values.name !== undefined) body.name = values.name;
  if (values.id !== undefined) body.id = values.id;
  if (values.at !== undefined) body.scheduled_at = values.at;
  if (values.priority !== undefined) {
    const priority = parsePriority(/^\d+$/.test(values.priority) ? Number(values.priority) : values.priority);
    if (priority === undefined) throw new UsageError(`--priority must be 0-4 or one of ${PRIORITY_NAMES.join(', ')}, not "${values.priority}"`);
    body.priority = priority;
  }
  if (values.payload !== undefined && values['payload-file'] !== undefined) throw new UsageError('give --payload or --payload-file, not both');
  if (values.payload !== undefined) body.payload = jsonObject(values.payload, 'payload');
  if (values['payload-file'] !== undefined) body.payload = jsonObject(await readInput(values['payload-file'], ctx.io, 'payload-file'), 'payload-file');
  if (values.metadata !== undefined) body.metadata = jsonObject(values.metadata, 'metadata');
  const delay = numberOption(values.delay, 'delay', { min: 0 });
  if (delay !== undefined) body.delay_seconds = delay;
  const timeout = numberOption(values.timeout, 'timeout', { above: 0 });
  if (timeout !== undefined) config.timeout_seconds = timeout;
  const retries = numberOption(values.retries, 'retries', { integer: true, min: 0 });
  if (retries !== undefined) config.max_retries = retries;
  const retryDelay = numberOption(values['retry-delay'], 'retry-delay', { min: 0 });
  if (retryDelay !== undefined) config.retry_delay_seconds = retryDelay;
  if (values.backoff !== undefined) {
    if (values.backoff !== 'fixed' && values.backoff !== 'exponential') throw new UsageError('--backoff must be fixed or exponential');
    config.backoff = values.backoff;
  }
  if (Object.keys(config).length) body.config = config;
  if (body.type === undefined) throw new UsageError('--type is required (or give --file or --ndjson)');
  return body as TaskCreate;
}

async function submitOne(ctx: Context, values: Values & { file?: string; 'depends-on'?: string }, wait: FollowOptions | undefined): Promise<number> {
  const body = await bodyFromFlags(ctx, values);
  if (values['depends-on'] !== undefined) {
    const ids = values['depends-on'].split(',').map((id) => id.trim()).filter(Boolean);
    if (ids.length === 0) throw new UsageError('--depends-on takes task ids, comma-separated');
    body.config = { ...body.config, dependencies: ids };
  }
  const answer = await ctx.client.createTask(body);
  const { task } = answer;
  if (wait) {
    if (!ctx.json) ctx.err(`submitted ${task.id}`);
    return followTask(ctx, task.id, wait);
  }
  if (ctx.json) ctx.printJson(answer);
  else ctx.out(`submitted ${task.id}  (${task.type}, ${task.priority_name}, ${task.status})`);
  return 0;
}

/** --sequential / --max-concurrency: how the server runs one batch (CONTRACT section 7). */
interface BatchRunOptions {
  parallel?: boolean;
  maxConcurrency?: number;
}

async function submitNdjson(ctx: Context, path: string, batchSize: number, wait: FollowOptions | undefined, run: BatchRunOptions): Promise<number> {
  const { bodies, lines, problems } = parseNdjson(await readInput(path, ctx.io, 'ndjson'));
  if (problems.length) {
    ctx.err(`taskengine: ${path}: ${new Set(problems.map((p) => p.line)).size} bad lines; nothing was sent`);
    problems.forEach((p) => ctx.err(`  ${formatLineProblem(p)}`));
    return EXIT_USAGE;
  }
  if (bodies.length === 0) throw new UsageError(`--ndjson: ${path} holds no tasks`);
  // The server orders and caps the tasks of one batch request; across requests it could not.
  if ((run.parallel === false || run.maxConcurrency !== undefined) && bodies.length > batchSize) {
    throw new UsageError(`--sequential and --max-concurrency apply to one batch: ${path} holds ${bodies.length} tasks, more than --batch-size ${batchSize}`);
  }
  const created: CreateBatchResponse = { success: true, task_ids: [], count: 0, tasks: [] };
  for (let start = 0; start < bodies.length; start += batchSize) {
    const chunkLines = lines.slice(start, start + batchSize);
    try {
      const answer = await ctx.client.createBatch(bodies.slice(start, start + batchSize), run);
      created.task_ids.push(...answer.task_ids);
      created.tasks.push(...answer.tasks);
      created.count += answer.count;
    } catch (err) {
      if (!(err instanceof TaskEngineApiError)) throw err;
      const sent = start ? `lines up to ${lines[start - 1]} (${created.count} tasks) were created; ` : '';
      ctx.err(`taskengine: ${err.code}: batch of lines ${chunkLines[0]}-${chunkLines.at(-1)} refused; ${sent}nothing from line ${chunkLines[0]} on was created`);
      if (err.problems.length) batchProblemsToLines(err.problems, chunkLines).forEach((p) => ctx.err(`  ${formatLineProblem(p)}`));
      else ctx.err(`  ${err.message}`);
      if (ctx.json && created.count) ctx.printJson(created);
      return EXIT_USAGE;
    }
  }
  if (wait) {
    if (!ctx.json) ctx.err(`submitted ${created.count} tasks`);
    return followTasks(ctx, created.task_ids, wait);
  }
  if (ctx.json) {
    ctx.printJson(created);
    return 0;
  }
  created.tasks.forEach((task, i) => ctx.out(`line ${lines[i]}  ${task.task_id}  ${task.status}`));
  const batches = Math.ceil(bodies.length / batchSize);
  ctx.out(`submitted ${created.count} tasks in ${batches} ${batches === 1 ? 'batch' : 'batches'}`);
  return 0;
}

export default defineCommand({
  name: 'submit',
  description: [
    'Submit one task from flags, or from a JSON file (flags override its fields), or many from an NDJSON file',
    '(one task body a line). NDJSON lines are checked before anything is sent: a bad line is reported with its',
    'number and nothing is created. Batches go in chunks of --batch-size.',
  ].join('\n'),
  options: {
    ...TASK_FLAGS,
    file: { type: 'string', short: 'f', value: '<path>', description: 'one task body, a JSON object (- for stdin)' },
    ndjson: { type: 'string', value: '<path>', description: 'one task body a line, sent as batches (- for stdin)' },
    'batch-size': { type: 'string', value: '<n>', description: `tasks per batch request: the server's tasks.max_batch_size (default ${DEFAULT_BATCH_SIZE})` },
    sequential: { type: 'boolean', description: 'with --ndjson: run the tasks one after another, in file order (parallel: false)' },
    'max-concurrency': { type: 'string', value: '<n>', description: 'with --ndjson: at most n of them running at once, across all workers' },
    'depends-on': { type: 'string', value: '<ids>', description: 'task ids (comma-separated) that must complete first (config.dependencies)' },
    wait: { type: 'boolean', short: 'w', description: 'then wait until the task(s) end (exit codes as `wait`)' },
    'wait-timeout': { type: 'string', value: '<seconds>', description: 'with --wait: give up after this long (exit 5)' },
    interval: { type: 'string', value: '<ms>', description: 'with --wait: longest pause between polls (default 1000)' },
  },
  examples: [
    `taskengine submit --type custom --name hello --payload '{"handler":"echo","greeting":"hi"}'`,
    `taskengine submit -t system_command --payload '{"command":"date"}' --priority high --wait`,
    'taskengine submit --file task.json --priority 0',
    'taskengine submit --ndjson tasks.ndjson --json',
    'taskengine submit --ndjson steps.ndjson --sequential --wait',
    'taskengine submit -t custom --depends-on <id1>,<id2>',
  ],
  async run(ctx, values) {
    const wait = values.wait
      ? { timeoutMs: waitTimeoutMs(values['wait-timeout'], 'wait-timeout'), intervalMs: numberOption(values.interval, 'interval', { min: 10 }) }
      : undefined;
    if (!values.wait && (values['wait-timeout'] !== undefined || values.interval !== undefined)) {
      throw new UsageError('--wait-timeout and --interval go with --wait');
    }
    if (values.ndjson !== undefined) {
      const mixed = [...Object.keys(TASK_FLAGS), 'file'].filter((flag) => values[flag as keyof typeof values] !== undefined);
      if (mixed.length) throw new UsageError(`--ndjson takes whole task bodies; it does not go with --${mixed.join(', --')}`);
      if (values['depends-on'] !== undefined) throw new UsageError('--depends-on goes with one task; in NDJSON give config.dependencies per line');
      const batchSize = numberOption(values['batch-size'], 'batch-size', { integer: true, min: 1 }) ?? DEFAULT_BATCH_SIZE;
      const maxConcurrency = numberOption(values['max-concurrency'], 'max-concurrency', { integer: true, min: 1 });
      return submitNdjson(ctx, values.ndjson, batchSize, wait, {
        ...(values.sequential ? { parallel: false } : {}),
        ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
      });
    }
    for (const flag of ['batch-size', 'sequential', 'max-concurrency'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with --ndjson`);
    }
    return submitOne(ctx, values, wait);
  },
});
