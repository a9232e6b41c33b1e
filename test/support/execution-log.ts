// Counting task executions from outside the workers, for the fault tests: the test handlers in
// ./handlers append one line per start and per finish to a log file (see handlers/execution-line.ts);
// this module names those handlers for config.yaml and reads the log back.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionEvent } from './handlers/execution-line.js';

const handlerPath = (file: string): string => fileURLToPath(new URL(`./handlers/${file}`, import.meta.url));

/** `executors` section for a test config: `record` (log, sleep, log) and `kill_own_worker` (poison). */
export const RECORDING_HANDLERS = {
  custom: {
    handlers: {
      record: handlerPath('record-execution.js'),
      kill_own_worker: handlerPath('kill-own-worker.js'),
    },
  },
};

export interface ExecutionRecord {
  event: ExecutionEvent;
  taskId: string;
  pid: number;
  at: number;
}

export interface ExecutionLog {
  /** Give it to the handlers as `payload.record_to`. */
  path: string;
  read(): ExecutionRecord[];
  remove(): void;
}

/** A fresh log file in a directory of its own; `remove()` deletes both. */
export function createExecutionLog(): ExecutionLog {
  const dir = mkdtempSync(join(tmpdir(), 'taskengine-executions-'));
  const path = join(dir, 'executions.log');
  return { path, read: () => readExecutionLog(path), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function readExecutionLog(path: string): ExecutionRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [event, taskId, pid, at] = line.split(' ');
      if ((event !== 'start' && event !== 'done') || !taskId || !pid || !at) throw new Error(`bad execution log line: ${line}`);
      return { event, taskId, pid: Number(pid), at: Number(at) };
    });
}

/** Start records per task id: one per execution (attempt that reached the handler). */
export function startsByTask(records: ExecutionRecord[]): Map<string, ExecutionRecord[]> {
  const byTask = new Map<string, ExecutionRecord[]>();
  for (const record of records) {
    if (record.event !== 'start') continue;
    const list = byTask.get(record.taskId);
    if (list) list.push(record);
    else byTask.set(record.taskId, [record]);
  }
  return byTask;
}

/** How often each task ran: executions beyond the first are duplicates. */
export function duplicateCount(starts: Map<string, ExecutionRecord[]>): number {
  let duplicates = 0;
  for (const list of starts.values()) duplicates += list.length - 1;
  return duplicates;
}
