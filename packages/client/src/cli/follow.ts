// Following tasks to their end for `wait`, `get --wait` and `submit --wait`, with the contract's exit
// codes (CONTRACT section 6). Progress goes to stderr, so stdout holds only the outcome: a live bar when
// stderr is a terminal, plain lines otherwise (none with --json).
import type { FinalOutcome } from '@taskengine/core';
import { TaskEngineWaitTimeoutError } from '../errors.js';
import type { TaskObject } from '../types.js';
import type { Context } from './command.js';
import { compactJson, formatDuration, taskLine } from './output.js';

export const EXIT_BY_STATUS: Record<FinalOutcome, number> = { completed: 0, failed: 1, timeout: 2, cancelled: 3 };
export const EXIT_USAGE = 4;
export const EXIT_GAVE_UP = 5;

export interface FollowOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

interface Outcome {
  id: string;
  /** The final state, or the last one seen when the wait gave up. */
  task: TaskObject | undefined;
  code: number;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const BAR_WIDTH = 20;
/** Tasks followed at once when waiting for many (each is one poll loop). */
const FOLLOW_CONCURRENCY = 16;

function bar(percent: number): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * BAR_WIDTH);
  return `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(percent)).padStart(3)}%`;
}

/** One line on a terminal, redrawn in place with a spinner and the time elapsed. */
class LiveLine {
  private frame = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly started = Date.now();

  constructor(
    private readonly stream: Context['io']['stderr'],
    private readonly text: (elapsed: string) => string,
  ) {
    this.timer = setInterval(() => this.render(), 100);
    this.render();
  }

  render(): void {
    const spinner = SPINNER[this.frame++ % SPINNER.length];
    const line = `${spinner} ${this.text(formatDuration(Date.now() - this.started))}`;
    const width = this.stream.columns ?? 100;
    this.stream.write(`\r\x1b[2K${line.length >= width ? line.slice(0, width - 1) : line}`);
  }

  stop(): void {
    clearInterval(this.timer);
    this.stream.write('\r\x1b[2K');
  }
}

/** What each change of a followed task shows, and the cleanup when following ends. */
interface Reporter {
  update(task: TaskObject): void;
  finished(outcome: Outcome): void;
  stop(): void;
}

function oneTaskReporter(ctx: Context, id: string): Reporter {
  let last: TaskObject | undefined;
  const started = Date.now();
  if (ctx.io.stderr.isTTY) {
    const line = new LiveLine(ctx.io.stderr, (elapsed) => {
      const status = last?.status ?? 'waiting';
      const retry = last?.retry_count ? `  retry ${last.retry_count}` : '';
      // The id goes last: a narrow terminal cuts it rather than the status and progress.
      return `${status.padEnd(9)} ${bar(last?.progress ?? 0)}  ${elapsed}${retry}  ${id}`;
    });
    return { update: (task) => ((last = task), line.render()), finished: () => {}, stop: () => line.stop() };
  }
  if (ctx.json) return { update: () => {}, finished: () => {}, stop: () => {} };
  return {
    update(task) {
      const retry = task.retry_count ? ` (retry ${task.retry_count})` : '';
      ctx.err(`[${formatDuration(Date.now() - started).padStart(6)}] ${task.status} ${task.progress}%${retry}`);
    },
    finished: () => {},
    stop: () => {},
  };
}

function manyTasksReporter(ctx: Context, total: number): Reporter {
  const progress = new Map<string, number>();
  const counts = new Map<string, number>();
  let done = 0;
  const summary = (): string => [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
  if (ctx.io.stderr.isTTY) {
    const line = new LiveLine(ctx.io.stderr, (elapsed) => {
      const percent = [...progress.values()].reduce((sum, p) => sum + p, 0) / total;
      return `${bar(percent)}  ${done}/${total} finished  ${elapsed}${counts.size ? `  (${summary()})` : ''}`;
    });
    return {
      update: (task) => progress.set(task.id, task.progress),
      finished(outcome) {
        done++;
        progress.set(outcome.id, 100);
        const status = outcome.task && outcome.code !== EXIT_GAVE_UP ? outcome.task.status : 'unfinished';
        counts.set(status, (counts.get(status) ?? 0) + 1);
        line.render();
      },
      stop: () => line.stop(),
    };
  }
  if (ctx.json) return { update: () => {}, finished: () => {}, stop: () => {} };
  return {
    update: () => {},
    finished(outcome) {
      done++;
      if (outcome.code !== EXIT_GAVE_UP && outcome.task) ctx.err(`[${done}/${total}] ${taskLine(outcome.task)}`);
    },
    stop: () => {},
  };
}

/** Stops a live line and exits 130 on Ctrl-C, so the terminal is left clean. */
function onInterrupt(reporter: Reporter): () => void {
  const handler = (): void => {
    reporter.stop();
    process.exit(130);
  };
  process.once('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

async function followWith(ctx: Context, id: string, reporter: Reporter, options: FollowOptions, signal?: AbortSignal): Promise<Outcome> {
  try {
    const task = await ctx.client.waitFor(id, { ...options, signal, onProgress: (t) => reporter.update(t) });
    return { id, task, code: EXIT_BY_STATUS[task.status as FinalOutcome] };
  } catch (err) {
    if (err instanceof TaskEngineWaitTimeoutError) return { id, task: err.lastTask, code: EXIT_GAVE_UP };
    throw err;
  }
}

/** Follows one task and prints its outcome; returns the exit code. */
export async function followTask(ctx: Context, id: string, options: FollowOptions): Promise<number> {
  const reporter = oneTaskReporter(ctx, id);
  const restore = onInterrupt(reporter);
  let outcome: Outcome;
  try {
    outcome = await followWith(ctx, id, reporter, options);
  } finally {
    reporter.stop();
    restore();
  }
  const { task, code } = outcome;
  if (ctx.json) {
    ctx.printJson(task ?? null);
  } else if (code === EXIT_GAVE_UP) {
    ctx.err(`taskengine: gave up after ${formatDuration(options.timeoutMs ?? 0)}: task ${id} is ${task ? `${task.status} (${task.progress}%)` : 'not finished'}`);
  } else if (task) {
    ctx.out(taskLine(task));
    if (task.result !== null) ctx.out(`result  ${compactJson(task.result, 2000)}`);
  }
  return code;
}

/**
 * Follows many tasks (a few at a time) and prints each outcome. Exit code: 0 when all completed, else
 * the lowest other code among them (1 failed, 2 timeout, 3 cancelled, 5 not finished in time).
 */
export async function followTasks(ctx: Context, ids: string[], options: FollowOptions): Promise<number> {
  const reporter = manyTasksReporter(ctx, ids.length);
  const restore = onInterrupt(reporter);
  // One deadline for all, so tasks still queued behind the first ones do not each get a fresh timeout.
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  const outcomes: Outcome[] = new Array(ids.length);
  let next = 0;
  const follower = async (): Promise<void> => {
    while (next < ids.length) {
      const index = next++;
      const id = ids[index]!;
      const timeoutMs = deadline === undefined ? undefined : Math.max(1, deadline - Date.now());
      outcomes[index] = await followWith(ctx, id, reporter, { ...options, timeoutMs });
      reporter.finished(outcomes[index]);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(FOLLOW_CONCURRENCY, ids.length) }, follower));
  } finally {
    reporter.stop();
    restore();
  }
  const tasks = outcomes.map((o) => o.task).filter((t): t is TaskObject => t !== undefined);
  const codes = outcomes.map((o) => o.code).filter((c) => c !== 0);
  const code = codes.length ? Math.min(...codes) : 0;
  if (ctx.json) {
    ctx.printJson({ tasks, count: tasks.length });
    return code;
  }
  const byStatus = new Map<string, number>();
  for (const o of outcomes) {
    const status = o.code === EXIT_GAVE_UP ? 'unfinished' : o.task!.status;
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }
  for (const o of outcomes) if (o.code !== 0 && o.code !== EXIT_GAVE_UP && o.task) ctx.out(taskLine(o.task));
  ctx.out(`${ids.length} tasks: ${[...byStatus].map(([status, n]) => `${n} ${status}`).join(', ')}`);
  if (byStatus.has('unfinished')) ctx.err(`taskengine: gave up after ${formatDuration(options.timeoutMs ?? 0)} with ${byStatus.get('unfinished')} tasks unfinished`);
  return code;
}
