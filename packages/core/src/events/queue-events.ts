// Reads BullMQ's per-queue event stream as the contract's task events. BullMQ's own scripts write an
// entry at every move of a job (waiting, delayed, active, completed, failed, progress, …) in the same
// Lua call as the move, and cancel-task-12.lua writes one when it cancels a waiting task, so the stream
// is a complete, ordered record of status changes that costs the hot path nothing extra.
//
// Our cancel and timeout are BullMQ failures whose reason carries the code (model/failure.ts): a final
// `failed` entry is read as cancelled, timeout or failed from it. A failed attempt that will be retried
// writes no `failed` entry: BullMQ moves it straight to delayed (back-off) or waiting.
import type { TaskStatus } from '../model/status.js';
import { finalStatusOfFailure } from '../model/failure.js';

/** One entry of a Redis stream: its id (`<ms>-<seq>`) and its fields. */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/** A status change read from the stream, before the task's own fields (progress, retries) are added. */
export interface QueueStatusChange {
  kind: 'status';
  streamId: string;
  taskId: string;
  status: TaskStatus;
  previous: TaskStatus | null;
  /** The failure reason the entry carries (final failures), which decides their status and error code. */
  failedReason?: string;
}

export interface QueueProgress {
  kind: 'progress';
  streamId: string;
  taskId: string;
  progress: number;
}

export type QueueEvent = QueueStatusChange | QueueProgress;

/** BullMQ's names of a job's state (the `prev` field), and our own statuses (cancel-task-12.lua writes those). */
const STATUS_OF_STATE: Record<string, TaskStatus> = {
  waiting: 'queued',
  wait: 'queued',
  prioritized: 'queued',
  paused: 'queued',
  delayed: 'pending',
  'waiting-children': 'pending',
  active: 'running',
  queued: 'queued',
  pending: 'pending',
  running: 'running',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  timeout: 'timeout',
};

const statusOfState = (state: string | undefined): TaskStatus | null => (state === undefined ? null : (STATUS_OF_STATE[state] ?? null));


/** `<ms>-<seq>` → [ms, seq]; '0-0' for anything else. */
function streamIdParts(id: string): [number, number] {
  const dash = id.indexOf('-');
  const ms = Number(id.slice(0, dash));
  const seq = Number(id.slice(dash + 1));
  return dash > 0 && Number.isFinite(ms) && Number.isFinite(seq) ? [ms, seq] : [0, 0];
}

/** Orders two stream ids: negative when `a` came first. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs, aSeq] = streamIdParts(a);
  const [bMs, bSeq] = streamIdParts(b);
  return aMs !== bMs ? aMs - bMs : aSeq - bSeq;
}

/** When the entry was written (Redis time), from its id. */
export const streamIdTime = (id: string): Date => new Date(streamIdParts(id)[0]);

/**
 * Reads a stream as task events, one entry at a time, in order. It remembers the entry before, because
 * BullMQ writes `delayed` both when a task is created for later (right after that task's `added`, in the
 * same script) and when a failed attempt waits for its retry's back-off; only the entry before tells
 * the two apart.
 */
export class QueueEventDecoder {
  private previous: StreamEntry | undefined;

  decode(entry: StreamEntry): QueueEvent | null {
    const before = this.previous;
    this.previous = entry;
    const { event, jobId, prev } = entry.fields;
    if (!jobId) return null;
    const change = (status: TaskStatus, previous: TaskStatus | null, failedReason?: string): QueueStatusChange => ({
      kind: 'status',
      streamId: entry.id,
      taskId: jobId,
      status,
      previous,
      ...(failedReason !== undefined ? { failedReason } : {}),
    });
    switch (event) {
      case 'waiting':
        // No `prev`: just created. `prev: active`: handed back at shutdown, recovered after a crash, or
        // retried without back-off.
        return change('queued', statusOfState(prev));
      case 'delayed': {
        const created = before?.fields.event === 'added' && before.fields.jobId === jobId;
        return change('pending', created ? null : 'running');
      }
      case 'waiting-children':
        return change('pending', statusOfState(prev));
      case 'active':
        return change('running', statusOfState(prev));
      case 'completed':
        return change('completed', statusOfState(prev));
      case 'failed': {
        const reason = entry.fields.failedReason;
        return change(finalStatusOfFailure(reason), statusOfState(prev), reason ?? '');
      }
      case 'progress': {
        const progress = progressValue(entry.fields.data);
        return progress === null ? null : { kind: 'progress', streamId: entry.id, taskId: jobId, progress };
      }
      default:
        // added (always followed by waiting or delayed), stalled (followed by waiting), removed,
        // retries-exhausted, drained, …: no status of their own.
        return null;
    }
  }
}

/** A progress entry's value (JSON), as the 0..100 number the task object shows; null when it is not one. */
function progressValue(data: string | undefined): number | null {
  if (data === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.min(100, value)) : null;
}

/** A task's fields from its job hash: BullMQ's count of started attempts, its progress (JSON), its last failure. */
export interface TaskFields {
  ats: string | null;
  progress: string | null;
  failedReason: string | null;
}

/**
 * Each event's task fields as they were when the event happened. The fields are read once, after the
 * batch, so they hold every later change too: an attempt started later in the batch is taken off the
 * count; before the task's first attempt ended there was no failure to show (a later failure's reason
 * is not this event's); and a status change shows the progress reported last before it in the batch,
 * or 0 before the first attempt made any. What the batch cannot tell (a reason overwritten by a second
 * failure in the same batch) keeps the value read, as GET /tasks/{id} would have shown a moment later.
 */
export function fieldsAsOfEachEvent(events: QueueEvent[], read: Map<string, TaskFields>): TaskFields[] {
  const asOf = new Array<TaskFields>(events.length);
  const laterStarts = new Map<string, number>();
  const laterProgress = new Set<string>();
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i]!;
    const now = read.get(event.taskId) ?? { ats: null, progress: null, failedReason: null };
    const later = laterStarts.get(event.taskId) ?? 0;
    const starts = Number(now.ats ?? 0) - later;
    const running = event.kind === 'status' && event.status === 'running';
    const ended = running ? starts - 1 : starts;
    asOf[i] = {
      ats: String(starts),
      failedReason: ended > 0 ? now.failedReason : null,
      progress: laterProgress.has(event.taskId) && ended === 0 ? '0' : now.progress,
    };
    if (running) laterStarts.set(event.taskId, later + 1);
    if (event.kind === 'progress') laterProgress.add(event.taskId);
  }
  // Forwards: the progress a status change shows is the last one reported before it in the batch.
  const reported = new Map<string, number>();
  events.forEach((event, i) => {
    if (event.kind === 'progress') reported.set(event.taskId, event.progress);
    else if (reported.has(event.taskId)) asOf[i]!.progress = String(reported.get(event.taskId));
  });
  return asOf;
}
