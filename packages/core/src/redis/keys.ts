// Every Redis key and channel name the engine uses, built in one place.
//
// Cluster-ready layout (DESIGN.md, "Redis keys"): each task type's BullMQ queue is named `{type}`, so
// BullMQ's keys and our own per-type keys share the hash tag `{type}` and live in one slot; every
// multi-key operation (Lua script, MULTI) touches one type only. Global things (client id claims, the
// worker registry, the cancel channel) are single-key operations or share their own tag.
import type { TaskType } from '../config/schema.js';

export class TaskKeys {
  constructor(readonly prefix: string) {}

  /** BullMQ queue name of a type; the braces are the cluster hash tag. */
  queueName(type: TaskType): string {
    return `{${type}}`;
  }

  /** BullMQ's own key of a queue, e.g. `bull(type, 'completed')`; `bull(type, '')` is the job key prefix. */
  bull(type: TaskType, suffix: string): string {
    return `${this.prefix}:{${type}}:${suffix}`;
  }

  job(type: TaskType, id: string): string {
    return this.bull(type, id);
  }

  /**
   * BullMQ's event stream of a type's queue (every status change and progress report, written by
   * BullMQ's own scripts and by cancel-task-12.lua): the source of the API's live events.
   */
  events(type: TaskType): string {
    return this.bull(type, 'events');
  }

  /**
   * A task's log lines (`ctx.log`): BullMQ's own per-job log list, so the dashboard shows them and
   * whatever removes the job (the retention janitor, BullMQ) removes them with it.
   */
  taskLog(type: TaskType, id: string): string {
    return `${this.job(type, id)}:logs`;
  }

  /** Lexicographic zset of `<created_ms>:<id>` members: every retained task of the type, for listing. */
  created(type: TaskType): string {
    return this.bull(type, 'te:created');
  }

  /** Zsets (score = finishedOn) of failed-set jobs that ended cancelled / timed out, for O(1) counts. */
  cancelled(type: TaskType): string {
    return this.bull(type, 'te:cancelled');
  }

  timedOut(type: TaskType): string {
    return this.bull(type, 'te:timeout');
  }

  /**
   * How far (a time in ms) the janitor has checked the cancelled / timeout side entries against the
   * failed set; entries written after it are checked in a later pass (reconcile-outcomes-4.lua).
   */
  outcomesChecked(type: TaskType): string {
    return this.bull(type, 'te:outcomes-checked');
  }

  /** Set of running tasks a client asked to cancel; the worker polls it, the janitor reconciles it. */
  cancelRequests(type: TaskType): string {
    return this.bull(type, 'te:cancel-requests');
  }

  /** Hash of lifetime counters and time sums of a type. */
  stats(type: TaskType): string {
    return this.bull(type, 'te:stats');
  }

  /** Hash of completed/failed counts in one 10-second bucket, for throughput. */
  throughput(type: TaskType, bucket: number): string {
    return this.bull(type, `te:tp:${bucket}`);
  }

  /**
   * Hash of one schedule's own fields beside BullMQ's job scheduler of the same id (name, task template,
   * created_at, runs, last run): in the type's slot, so a worker counts a run in the script that indexes it.
   */
  schedule(type: TaskType, id: string): string {
    return this.bull(type, `te:schedule:${id}`);
  }

  /** Claim on a client-chosen id, unique across types. */
  idClaim(id: string): string {
    return `${this.prefix}:id:${id}`;
  }

  /** Zset of live worker ids by last heartbeat (ms). */
  workerIndex(): string {
    return `${this.prefix}:{workers}:index`;
  }

  worker(workerId: string): string {
    return `${this.prefix}:{workers}:w:${workerId}`;
  }

  /** Lock so that one process at a time runs the retention janitor of a type. */
  janitorLock(type: TaskType): string {
    return this.bull(type, 'te:janitor-lock');
  }

  // ----------------------------------------------------------------------------------- workflows
  // Dependencies and capped batches (CONTRACT section 7). A dependency and its dependent may be of
  // different types, i.e. in different slots: each key below lives in the slot of the task it
  // describes, and every step that crosses types is a separate single-slot script made idempotent.

  /** Set of `<type>:<id>` of the tasks waiting on this one (in this task's slot). */
  dependents(type: TaskType, id: string): string {
    return `${this.job(type, id)}:te:dependents`;
  }

  /** Hash dependency id → its final status, as recorded for this held task (in this task's slot). */
  dependencyOutcomes(type: TaskType, id: string): string {
    return `${this.job(type, id)}:te:deps`;
  }

  /**
   * Zset (score = when marked) of the type's tasks whose end has follow-up work: dependents to settle
   * or a batch slot to free. Removed once that work is done, so the janitor can redo it for a task
   * whose finisher died half-way.
   */
  unsettled(type: TaskType): string {
    return this.bull(type, 'te:unsettled');
  }

  /** How far (a creation time in ms) the janitor has re-linked held tasks whose creator may have died. */
  heldChecked(type: TaskType): string {
    return this.bull(type, 'te:held-checked');
  }

  /**
   * A capped batch's slot gate, in the slot of the batch's first task's type: `hash` {limit, remaining},
   * `ready` (zset of members waiting for a slot, scored by batch index), `holders` and `left` (sets).
   */
  batchGate(type: TaskType, batchId: string): { hash: string; ready: string; holders: string; left: string } {
    const base = this.bull(type, `te:gate:${batchId}`);
    return { hash: base, ready: `${base}:ready`, holders: `${base}:holders`, left: `${base}:left` };
  }

  /**
   * A key the API writes (briefly, it expires) on its acknowledgement connection only so that a WAIT
   * there covers writes another connection made just before (replica-acknowledgement.ts).
   */
  replicationBarrier(): string {
    return `${this.prefix}:replication-barrier`;
  }

  /** Pub/sub channel carrying cancel requests of running tasks to every worker. */
  cancelChannel(): string {
    return `${this.prefix}:cancel`;
  }
}

/** Member of the `created` index: fixed-width time first, so lexicographic order is time order. */
export function createdMember(createdMs: number, id: string): string {
  return `${String(createdMs).padStart(15, '0')}:${id}`;
}

export function parseCreatedMember(member: string): { createdMs: number; id: string } {
  const colon = member.indexOf(':');
  return { createdMs: Number(member.slice(0, colon)), id: member.slice(colon + 1) };
}
