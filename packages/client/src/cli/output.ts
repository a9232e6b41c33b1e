// Human output: compact tables and one-line summaries of tasks. Machine output (--json) never comes here.
import type { TaskObject } from '../types.js';

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** Key-value lines with the keys padded to one width. */
export function fields(pairs: Array<[string, string | undefined]>): string[] {
  const shown = pairs.filter((pair): pair is [string, string] => pair[1] !== undefined && pair[1] !== '');
  const width = Math.max(...shown.map(([key]) => key.length)) + 2;
  return shown.map(([key, value]) => `${key.padEnd(width)}${value}`);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m${Math.round((ms % 60_000) / 1000)}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}

/** JSON on one line, cut to `max` characters. */
export function compactJson(value: unknown, max = 400): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** How long the task ran (or has been running), when it started. */
export function runTime(task: TaskObject, now = Date.now()): string | undefined {
  if (!task.started_at) return undefined;
  const end = task.completed_at ? Date.parse(task.completed_at) : now;
  return formatDuration(end - Date.parse(task.started_at));
}

/** `completed  <id>  custom "name"  in 1.2s` plus the error for a task that did not complete. */
export function taskLine(task: TaskObject): string {
  const took = task.completed_at ? runTime(task) : undefined;
  const parts = [task.status, task.id, `${task.type}${task.name !== task.type ? ` "${task.name}"` : ''}`];
  if (took) parts.push(`in ${took}`);
  if (task.retry_count > 0) parts.push(`after ${task.retry_count} ${task.retry_count === 1 ? 'retry' : 'retries'}`);
  if (task.error || task.error_code) parts.push(`${task.error_code ?? 'error'}: ${task.error ?? ''}`.trim());
  return parts.join('  ');
}

/** Every field of a task, for `get`. */
export function taskDetails(task: TaskObject): string[] {
  const { config } = task;
  return fields([
    ['id', task.id],
    ['name', task.name],
    ['type', task.type],
    ['status', `${task.status}${task.status === 'running' ? ` (${task.progress}%)` : ''}`],
    ['priority', `${task.priority} ${task.priority_name}`],
    ['config', `timeout ${config.timeout_seconds}s, max_retries ${config.max_retries}, retry_delay ${config.retry_delay_seconds}s ${config.backoff}`],
    ['created', task.created_at],
    ['scheduled', task.scheduled_at ?? undefined],
    ['started', task.started_at ?? undefined],
    ['finished', task.completed_at ? `${task.completed_at} (ran ${runTime(task)})` : undefined],
    ['retries', task.retry_count ? String(task.retry_count) : undefined],
    ['worker', task.worker_id ?? undefined],
    ['schedule', task.schedule_id ?? undefined],
    ['error', task.error || task.error_code ? `${task.error_code ?? 'error'}: ${task.error ?? ''}` : undefined],
    ['payload', compactJson(task.payload)],
    ['metadata', Object.keys(task.metadata).length ? compactJson(task.metadata) : undefined],
    ['result', task.result === null ? undefined : compactJson(task.result, 2000)],
  ]);
}
