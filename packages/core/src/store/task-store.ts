// The task store: creates, reads, lists, counts and cancels tasks over BullMQ's queues (one per type)
// and the engine's small per-type indexes. Used by the API; workers only consume the queues.
//
// Round trips: create = 1 (a MULTI holding BullMQ's add script and our index + counter), plus 1 for a
// client-chosen id's claim; get = 1 (one script per type, sent together); list = 1 + 1 for the counts.
// A task that waits (dependencies, a capped batch) is stored held and then linked by the
// WorkflowCoordinator (about 2 more); tasks that do not wait never pay for it.
import { Job, Queue } from 'bullmq';
import { Cluster, type ChainableCommander } from 'ioredis';
import type { RedisClient } from '../redis/connection.js';
import type { Config, TaskType } from '../config/schema.js';
import { TASK_TYPES } from '../config/schema.js';
import type { TaskObject } from '../contracts/responses.js';
import type { TaskSpec } from '../contracts/task-create.js';
import { ApiError, taskNotFound } from '../errors.js';
import { backoffOption } from '../model/backoff.js';
import { encodeFailure } from '../model/failure.js';
import { priorityName, toBullPriority, type Priority } from '../model/priority.js';
import { emptyStatusCounts, TASK_STATUSES, type TaskStatus } from '../model/status.js';
import { scheduledTick } from '../model/scheduled-task-id.js';
import { taskFromJobHash, type TaskJobData } from '../model/task.js';
import { createdMember, TaskKeys } from '../redis/keys.js';
import { gateOpenings, PartialCreate, type CreateWrite } from './create-writes.js';
import { GroupCommitter } from './group-committer.js';
import { isReplicationShortfall, ReplicaAcknowledgement } from './replica-acknowledgement.js';
import { ScheduleStore } from './schedule-store.js';
import { statsField } from '../stats/counters.js';
import { defineEngineCommands, type EngineCommands, type EngineRedis } from '../redis/scripts.js';
import { gateField, type HeldTask } from '../workflows/workflow-model.js';
import { WorkflowCoordinator, type HeldOutcome, type HeldOutcomes } from '../workflows/workflow-coordinator.js';

export const CANCEL_REASON = encodeFailure('cancelled', 'Cancelled by client');

export interface TypeCounts {
  statuses: Record<TaskStatus, number>;
  /** Index = client priority 0..4. */
  queuedByPriority: number[];
  runningByPriority: number[];
}

export interface ListQuery {
  statuses?: TaskStatus[];
  types?: TaskType[];
  limit: number;
  cursor?: string;
}

export interface ListPage {
  tasks: TaskObject[];
  nextCursor: string | null;
}

export type CancelOutcome =
  | { outcome: 'cancelled'; previous: TaskStatus }
  | { outcome: 'requested'; previous: 'running' }
  | { outcome: 'final'; previous: TaskStatus };

/** Index entries one list request may look at per type, as a multiple of the page size. */
const SCAN_BUDGET_FACTOR = 20;
const MIN_SCAN_BUDGET = 2000;
/** How long a request waits for a concurrent request's task under the same client id. */
const CLAIM_WAIT_MS = 1000;

export class TaskStore {
  readonly keys: TaskKeys;
  readonly queues: Record<TaskType, Queue>;
  readonly workflows: WorkflowCoordinator;
  /** Schedules live in the tasks' queues (BullMQ job schedulers), so they share this store's queues. */
  readonly schedules: ScheduleStore;
  /** `redis.wait_replicas` > 0: writes are acknowledged only once replicas have them (null: off). */
  readonly replication: ReplicaAcknowledgement | null;
  private readonly redis: EngineRedis;

  constructor(
    redis: RedisClient,
    private readonly config: Config,
  ) {
    this.redis = defineEngineCommands(redis);
    this.keys = new TaskKeys(config.redis.prefix);
    this.replication = ReplicaAcknowledgement.fromConfig(config, this.keys);
    this.workflows = new WorkflowCoordinator(redis, this.keys);
    this.queues = Object.fromEntries(
      TASK_TYPES.map((type) => [type, new Queue(this.keys.queueName(type), { connection: redis, prefix: config.redis.prefix })]),
    ) as Record<TaskType, Queue>;
    // A Redis outage reaches each Queue as an 'error' event; without a listener BullMQ prints every
    // reconnect failure. Requests answer 503 and /health reports it, so the event itself is dropped.
    for (const queue of Object.values(this.queues)) queue.on('error', () => {});
    this.schedules = new ScheduleStore(redis, this.keys, this.queues, (task) => this.cancel(task));
  }

  /** BullMQ keys a list/count/cancel script needs, in the order the scripts declare them. */
  private stateKeys(type: TaskType): string[] {
    const k = (suffix: string): string => this.keys.bull(type, suffix);
    return [k('completed'), k('failed'), k('delayed'), k('prioritized'), k('active'), k('wait'), k('paused'), k('waiting-children')];
  }

  private jobPrefix(type: TaskType): string {
    return this.keys.bull(type, '');
  }

  private claimTtlSeconds(): number {
    const hours = Math.max(this.config.tasks.max_age_hours, this.config.tasks.failed_max_age_hours);
    return Math.ceil(hours * 3600);
  }

  private jobFor(spec: TaskSpec, now: number): Job {
    const data: TaskJobData = { payload: spec.payload, timeout_seconds: spec.config.timeout_seconds };
    if (Object.keys(spec.metadata).length) data.metadata = spec.metadata;
    if (spec.runAtMs !== null) data.scheduled_at = new Date(spec.runAtMs).toISOString();
    if (spec.fingerprint) data.fingerprint = spec.fingerprint;
    if (spec.workflow) {
      data.dependencies = spec.workflow.dependencies;
      if (spec.workflow.batch) data.batch = spec.workflow.batch;
    }
    return new Job(this.queues[spec.type], spec.name, data, {
      jobId: spec.id,
      timestamp: now,
      priority: toBullPriority(spec.priority),
      attempts: spec.config.max_retries + 1,
      backoff: backoffOption(spec.config.backoff, Math.round(spec.config.retry_delay_seconds * 1000)),
      ...(spec.runAtMs !== null ? { delay: spec.runAtMs - now } : {}),
    }, spec.id);
  }

  /**
   * Settles client-chosen ids: returns, per spec, the existing task when the same task was posted
   * before (idempotent repeat), throws 409 when the id is taken by a different task. Also returns the
   * claims this call made, for store() to release if the tasks are not stored after all.
   */
  private async claimClientIds(specs: TaskSpec[]): Promise<{ existing: Map<string, TaskObject>; claimedNow: string[] }> {
    const claimed = specs.filter((spec) => spec.clientId);
    if (claimed.length === 0) return { existing: new Map(), claimedNow: [] };
    const previous = await this.takeClaims(claimed);
    const claimedNow = claimed.filter((_, i) => previous[i] === null).map((spec) => spec.id);
    try {
      return { existing: await this.settleClaims(claimed, previous), claimedNow };
    } catch (err) {
      // Redis failed us half-way (full, or gone): free the ids again, or a retry with a corrected
      // body would get a 409 for a task that does not exist. A 409 has released its own.
      if (!(err instanceof ApiError)) await this.releaseClaims(claimedNow);
      throw err;
    }
  }

  /**
   * Claims each id (SET NX GET); returns each claim's previous value (null: claimed now). All or
   * none: when Redis refuses some (e.g. it is full), the ones taken are released and the error thrown.
   */
  private async takeClaims(claimed: TaskSpec[]): Promise<Array<string | null>> {
    const ttl = this.claimTtlSeconds();
    const results = await Promise.allSettled(
      claimed.map((spec) =>
        this.redis.set(this.keys.idClaim(spec.id), `${spec.type}|${spec.fingerprint}`, 'EX', ttl, 'NX', 'GET'),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      const takenNow = claimed.filter((_, i) => {
        const result = results[i]!;
        return result.status === 'fulfilled' && result.value === null;
      });
      await this.releaseClaims(takenNow.map((spec) => spec.id));
      throw failed.reason;
    }
    return results.map((r) => (r as PromiseFulfilledResult<string | null>).value);
  }

  /**
   * Best effort: Redis takes deletes even when full; when it is unreachable the claims stay (see store()).
   * One DEL per claim, sent together: claims of different ids hash to different cluster slots.
   */
  private async releaseClaims(ids: string[]): Promise<void> {
    await Promise.all(ids.map((id) => this.redis.del(this.keys.idClaim(id)).catch(() => {})));
  }

  /** claimClientIds' decision, once the claims are taken: existing tasks by id, or a 409. */
  private async settleClaims(claimed: TaskSpec[], previous: Array<string | null>): Promise<Map<string, TaskObject>> {
    const existing = new Map<string, TaskObject>();
    // A claim that expired while its task lived on is caught by looking for the task itself.
    const found = await this.getMany(claimed.map((spec) => spec.id));
    // Same task claimed by a concurrent request that has not stored it yet: wait for it rather than
    // store it twice; if it never appears (that request died), this one creates it.
    const inFlight = claimed.filter((spec, i) => previous[i] === `${spec.type}|${spec.fingerprint}` && !found.has(spec.id));
    for (let waited = 0; inFlight.length > 0 && waited < CLAIM_WAIT_MS; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const arrived = await this.getMany(inFlight.map((spec) => spec.id), [...new Set(inFlight.map((spec) => spec.type))]);
      for (const [id, task] of arrived) found.set(id, task);
      inFlight.splice(0, inFlight.length, ...inFlight.filter((spec) => !arrived.has(spec.id)));
    }
    const conflicts: string[] = [];
    for (const [i, spec] of claimed.entries()) {
      const task = found.get(spec.id);
      const claim = `${spec.type}|${spec.fingerprint}`;
      if (task) {
        // With no claim left (it expired before the task did), the job's own copy of the fingerprint decides.
        const same = previous[i] === null ? await this.storedClaim(task) === claim : previous[i] === claim;
        if (same) existing.set(spec.id, task);
        else conflicts.push(spec.id);
      } else if (previous[i] !== null && previous[i] !== claim) {
        // Claimed for another task that is not stored (in flight, or gone past retention): take it over
        // only if that task never appears.
        conflicts.push(spec.id);
      }
    }
    if (conflicts.length > 0) {
      const stillFree = claimed.filter((spec, i) => previous[i] === null && !found.has(spec.id));
      await this.releaseClaims(stillFree.map((spec) => spec.id));
      throw new ApiError(
        409,
        'conflict',
        `task id${conflicts.length > 1 ? 's' : ''} ${conflicts.join(', ')} already used by a different task`,
        { ids: conflicts },
      );
    }
    return existing;
  }

  /** The claim value a stored task was created with (its fingerprint lives in the job's data). */
  private async storedClaim(task: TaskObject): Promise<string> {
    const data = await this.redis.hget(this.keys.job(task.type, task.id), 'data');
    const fingerprint = data ? (JSON.parse(data) as TaskJobData).fingerprint : undefined;
    return `${task.type}|${fingerprint ?? ''}`;
  }

  /**
   * Group commits of creates (see GroupCommitter): on one server, one for every type, so a busy API
   * writes all concurrent creates in one MULTI; on Redis Cluster, one per type (see write()).
   */
  private readonly committers = new Map<TaskType | 'any', GroupCommitter<CreateWrite, void>>();

  private committer(slot: TaskType | 'any'): GroupCommitter<CreateWrite, void> {
    let committer = this.committers.get(slot);
    if (!committer) this.committers.set(slot, (committer = new GroupCommitter((writes) => this.commit(writes))));
    return committer;
  }

  /**
   * Writes a group of creates in one MULTI: each job (BullMQ's own add script), its index entry, the
   * batch gates and the creation counters. A request's part is all written or none.
   */
  private async commit(requests: CreateWrite[]): Promise<Array<void | Error>> {
    // BullMQ's client wraps our ioredis connection; its MULTI forwards plain commands to ioredis
    // (but takes HSET's fields as one object).
    // With redis.wait_replicas, on the acknowledgement connection instead: WAIT then goes there too.
    const first = requests[0]!;
    const client = this.replication ? await this.replication.client() : await this.queues[first.specs[0]?.type ?? first.gates[0]!.type].backend.client;
    const tx = client.multi() as unknown as ChainableCommander;
    const createdCounts = new Map<string, { type: TaskType; priority: Priority; count: number }>();
    const indexEntries = new Map<TaskType, Array<number | string>>();
    const ranges: Array<[number, number]> = [];
    let commands = 0;
    for (const { specs, gates, now } of requests) {
      const from = commands;
      for (const spec of specs) {
        if (spec.workflow) commands += this.addHeld(tx, spec, now);
        else {
          void this.jobFor(spec, now).addJob(tx as never);
          commands += 1;
        }
        let entries = indexEntries.get(spec.type);
        if (!entries) indexEntries.set(spec.type, (entries = []));
        entries.push(0, createdMember(now, spec.id));
        const group = `${spec.type}:${spec.priority}`;
        const entry = createdCounts.get(group) ?? { type: spec.type, priority: spec.priority, count: 0 };
        entry.count++;
        createdCounts.set(group, entry);
      }
      for (const { type, batchId, limit, count } of gates) tx.hset(this.keys.batchGate(type, batchId).hash, { limit, remaining: count });
      commands += gates.length;
      ranges.push([from, commands]);
    }
    // One ZADD per type for the whole group: a command per task here cost as much as the job itself.
    for (const [type, entries] of indexEntries) tx.zadd(this.keys.created(type), ...entries);
    for (const { type, priority, count } of createdCounts.values()) tx.hincrby(this.keys.stats(type), statsField.created(priority), count);
    const results = await tx.exec();
    if (!results) throw new Error('task creation transaction was aborted');
    const bookkeeping = results.slice(commands).find(([err]) => err)?.[0];
    if (bookkeeping) throw bookkeeping;
    const outcomes = ranges.map(([from, to]) => results.slice(from, to).find(([err]) => err)?.[0] ?? undefined);
    // Acknowledged only once enough replicas have the MULTI (WAIT on the connection that sent it).
    return this.replication ? this.replication.confirm(outcomes, requests.map(({ specs }) => specs.map((spec) => spec.id))) : outcomes;
  }

  /**
   * Writes a request's new tasks. On one server that is one MULTI, so a batch is all or nothing. On
   * Redis Cluster a MULTI may only touch one hash slot, i.e. one type: a batch of several types is
   * written as one MULTI per type, each all or nothing. When some types' parts fail and others are
   * stored, the error names the stored tasks (PartialCreate).
   */
  private async write(specs: TaskSpec[], now: number): Promise<void> {
    const gates = gateOpenings(specs);
    if (!(this.redis instanceof Cluster)) return this.committer('any').submit({ specs, gates, now });
    const types = [...new Set([...specs.map((spec) => spec.type), ...gates.map((gate) => gate.type)])];
    const outcomes = await Promise.allSettled(
      types.map((type) =>
        this.committer(type).submit({
          specs: specs.filter((spec) => spec.type === type),
          gates: gates.filter((gate) => gate.type === type),
          now,
        }),
      ),
    );
    const failed = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
    if (failed.length === 0) return;
    if (failed.length === types.length) throw failed[0];
    const storedTypes = types.filter((_, i) => outcomes[i]!.status === 'fulfilled');
    throw new PartialCreate(specs.filter((spec) => storedTypes.includes(spec.type)).map((spec) => spec.id), failed[0]);
  }

  /**
   * Queues a task that must wait as a held job (BullMQ's `waiting-children` zset: it reads `pending`, and
   * nothing in BullMQ moves it) with what settle-held-task needs beside it. Returns the commands added.
   */
  private addHeld(tx: ChainableCommander, spec: TaskSpec, now: number): number {
    void this.jobFor(spec, now).addJob(tx as never, { addToWaitingChildren: true });
    const { dependencies, batch } = spec.workflow!;
    const jobKey = this.keys.job(spec.type, spec.id);
    if (!batch) {
      tx.hset(jobKey, { te_need: dependencies.length });
      return 2;
    }
    tx.hset(jobKey, { te_need: dependencies.length, te_gate: gateField(batch) });
    // Its end must free its slot, even if the process that ends it dies first: the janitor redoes
    // the follow-up work of ended tasks still marked unsettled.
    tx.zadd(this.keys.unsettled(spec.type), now, spec.id);
    return 3;
  }

  /**
   * Creates tasks atomically (one MULTI: every job, its index entry and the creation counters).
   * Returns each task and whether it was created now (false: an idempotent repeat).
   */
  async create(specs: TaskSpec[], now = Date.now()): Promise<Array<{ task: TaskObject; created: boolean }>> {
    // `now` must be the time the specs were normalised with, so a delay counts from created_at.
    const { existing, held } = await this.store(specs, now);
    return specs.map((spec) => {
      const previous = existing.get(spec.id);
      if (previous) return { task: previous, created: false };
      return { task: this.newTaskObject(spec, now, held.get(spec.id)), created: true };
    });
  }

  /** Like create(), answering only each task's id and status (a batch's answer needs no more). */
  async createSummaries(specs: TaskSpec[], now = Date.now()): Promise<Array<{ task_id: string; status: TaskStatus }>> {
    const { existing, held } = await this.store(specs, now);
    return specs.map((spec) => ({
      task_id: spec.id,
      status: existing.get(spec.id)?.status ?? held.get(spec.id)?.status ?? initialStatus(spec),
    }));
  }

  /**
   * Stores the specs not already stored under their client ids, then links the held ones; returns those
   * existing tasks by id, and what became of held tasks at once (released, or cancelled because a
   * dependency had already failed).
   */
  private async store(specs: TaskSpec[], now: number): Promise<{ existing: Map<string, TaskObject>; held: HeldOutcomes }> {
    const { existing, claimedNow } = await this.claimClientIds(specs);
    const fresh = specs.filter((spec) => !existing.has(spec.id));
    let unreplicated: unknown;
    try {
      if (fresh.length > 0) await this.write(fresh, now);
      // A repeat writes nothing, yet its task may be one whose create answered 503 for want of replicas.
      else await this.replication?.confirmEarlierWrites({ kind: 'tasks', taskIds: specs.map((spec) => spec.id) });
    } catch (err) {
      if (err instanceof PartialCreate) {
        // Cluster only: the stored tasks keep their claims (a retry finds them); their held ones are
        // linked by the janitor, as for a creator that died after the write.
        await this.releaseClaims(claimedNow.filter((id) => !err.storedIds.includes(id)));
        throw err.toApiError(fresh.length);
      }
      if (!isReplicationShortfall(err)) {
        // The write is one MULTI: Redis refused it whole (e.g. full), so the ids must stay free; a claim
        // left behind would make the client's retry with a corrected body a 409 for a task that does
        // not exist. Redis takes deletes even when full. If instead the connection dropped after Redis
        // ran the MULTI, the task exists and a retry finds it by looking for the task itself (as for an
        // expired claim); if the delete cannot reach Redis, the claim stays and only delays a same-body
        // retry by CLAIM_WAIT_MS (a different body gets 409 until the claim expires).
        await this.releaseClaims(claimedNow);
        throw err;
      }
      // On the master but not confirmed by enough replicas (redis.wait_replicas): the tasks exist, so
      // their ids stay claimed and held ones are linked as usual; the client gets the 503 and may repeat.
      unreplicated = err;
    }
    // Held tasks are stored before they are linked: if this process dies in between, the janitor
    // links them (RetentionJanitor, held tasks older than a grace).
    const held: HeldTask[] = fresh.flatMap((spec) => (spec.workflow ? [{ type: spec.type, id: spec.id, ...spec.workflow }] : []));
    const outcomes: HeldOutcomes = held.length ? await this.workflows.link(held, now) : new Map();
    if (unreplicated) throw unreplicated;
    return { existing, held: outcomes };
  }

  /** The task object of a task just created, without reading it back. */
  private newTaskObject(spec: TaskSpec, now: number, held?: HeldOutcome): TaskObject {
    const task: TaskObject = {
      id: spec.id,
      task_id: spec.id,
      name: spec.name,
      type: spec.type,
      priority: spec.priority,
      priority_name: priorityName(spec.priority),
      status: initialStatus(spec),
      config: { ...spec.config },
      payload: spec.payload,
      metadata: spec.metadata,
      result: null,
      error: null,
      error_code: null,
      progress: 0,
      created_at: new Date(now).toISOString(),
      scheduled_at: spec.runAtMs !== null ? new Date(spec.runAtMs).toISOString() : null,
      started_at: null,
      completed_at: null,
      retry_count: 0,
      worker_id: null,
      schedule_id: null,
    };
    if (spec.workflow?.dependencies.length) task.config.dependencies = spec.workflow.dependencies.map((dependency) => dependency.task_id);
    if (held) Object.assign(task, held);
    return task;
  }

  /** list-tasks-9.lua's keys and leading arguments, then `args`. */
  private listTasksArgs(type: TaskType, args: Array<string | number>): Array<string | number> {
    return [this.keys.created(type), ...this.stateKeys(type), this.jobPrefix(type), Date.now(), ...args];
  }

  private async runList(type: TaskType, args: Array<string | number>): Promise<{ stop: string; tasks: TaskObject[] }> {
    const raw = (await this.redis.te_listTasks(...this.listTasksArgs(type, args))) as [string, ...Array<[string, TaskStatus, string, string[]]>];
    const [stop, ...rows] = raw;
    return { stop, tasks: rows.map(([id, status, , fields]) => taskFromJobHash(type, id, status, fields)) };
  }

  /** Finds tasks by id in whichever type holds them (one script per type, sent together). */
  async getMany(ids: string[], types: readonly TaskType[] = TASK_TYPES): Promise<Map<string, TaskObject>> {
    const found = new Map<string, TaskObject>();
    if (ids.length === 0) return found;
    const perType = await Promise.all(types.map((type) => this.runList(type, ['ids', '', '', 0, 0, ...ids])));
    for (const { tasks } of perType) for (const task of tasks) found.set(task.id, task);
    return found;
  }

  async get(id: string): Promise<TaskObject> {
    const task = (await this.getMany([id])).get(id);
    if (!task) throw taskNotFound(id);
    return task;
  }

  /**
   * A task of a known type read in one transaction with the id of its type's newest event: every event
   * up to that id is in the task as read, every later one is news. A live stream that subscribed
   * before this read sends the task, then only the events after that id, and so loses none.
   */
  async getWithEventPosition(type: TaskType, id: string): Promise<{ task: TaskObject; position: string }> {
    const tx = this.redis.multi();
    (tx as unknown as EngineCommands).te_listTasks(...this.listTasksArgs(type, ['ids', '', '', 0, 0, id]));
    tx.xrevrange(this.keys.events(type), '+', '-', 'COUNT', 1);
    const results = await tx.exec();
    if (!results) throw new Error('task read transaction was aborted');
    const failed = results.find(([err]) => err)?.[0];
    if (failed) throw failed;
    const [, ...rows] = results[0]![1] as [string, ...Array<[string, TaskStatus, string, string[]]>];
    const newest = results[1]![1] as Array<[string, string[]]>;
    const row = rows[0];
    if (!row) throw taskNotFound(id);
    return { task: taskFromJobHash(type, row[0], row[1], row[3]), position: newest[0]?.[0] ?? '0-0' };
  }

  /**
   * One page of tasks, newest first by creation (ties in a stable order). Each type's index is walked
   * by a script that filters by status as it goes; a page may come back short when the filter is rare
   * (each type looks at a bounded number of entries per request), in which case `nextCursor` continues.
   */
  async list(query: ListQuery): Promise<ListPage> {
    const types = query.types?.length ? query.types : TASK_TYPES;
    const cursor = query.cursor ?? '';
    const budget = Math.max(MIN_SCAN_BUDGET, query.limit * SCAN_BUDGET_FACTOR);
    const wanted = (query.statuses ?? []).join(',');
    const results = await Promise.all(
      types.map(async (type) => ({ type, ...(await this.runList(type, ['scan', wanted, cursor, query.limit, budget])) })),
    );
    // Every type has been looked at completely down to its stop member; the page may only hold
    // tasks above the highest such stop, or a task of a type that stopped higher could be skipped.
    let floor = '';
    for (const { stop } of results) if (stop > floor) floor = stop;
    const rows = results
      .flatMap(({ tasks }) => tasks.map((task) => ({ task, member: createdMember(Date.parse(task.created_at), task.id) })))
      .filter(({ member }) => member >= floor)
      .sort((a, b) => (a.member < b.member ? 1 : a.member > b.member ? -1 : 0));
    const page = rows.slice(0, query.limit);
    // More may follow when rows were left over or some type's walk stopped early (floor set); the next
    // page starts below this page's last row, or below the floor when the page is short.
    const more = rows.length > query.limit || floor !== '';
    const nextCursor = !more ? null : page.length === query.limit ? page[page.length - 1]!.member : floor;
    return { tasks: page.map(({ task }) => task), nextCursor };
  }

  async counts(type: TaskType): Promise<TypeCounts> {
    const raw = await this.redis.te_countTasks(
      ...this.stateKeys(type),
      this.keys.cancelled(type),
      this.keys.timedOut(type),
      this.jobPrefix(type),
      Date.now(),
    );
    const statuses = emptyStatusCounts();
    // count-tasks answers the statuses in TASK_STATUSES order, then the priority breakdowns.
    TASK_STATUSES.forEach((status, i) => {
      statuses[status] = Number(raw[i]);
    });
    return { statuses, queuedByPriority: raw.slice(7, 12).map(Number), runningByPriority: raw.slice(12, 17).map(Number) };
  }

  async countsByType(types: readonly TaskType[] = TASK_TYPES): Promise<Record<TaskType, TypeCounts>> {
    const all = await Promise.all(types.map((type) => this.counts(type)));
    return Object.fromEntries(types.map((type, i) => [type, all[i]])) as Record<TaskType, TypeCounts>;
  }

  /** Cancels a task of a known type (see cancel-task-12.lua); publishes the request when it runs. */
  async cancel(task: Pick<TaskObject, 'id' | 'type'>): Promise<CancelOutcome | null> {
    const type = task.type;
    const [outcome, previous] = await this.redis.te_cancelTask(
      ...this.stateKeys(type),
      this.keys.cancelled(type),
      this.keys.cancelRequests(type),
      this.keys.events(type),
      this.keys.stats(type),
      this.jobPrefix(type),
      task.id,
      Date.now(),
      CANCEL_REASON,
    );
    if (outcome === 'missing') return null;
    if (outcome === 'requested') {
      await this.redis.publish(this.keys.cancelChannel(), JSON.stringify({ type, id: task.id }));
    }
    // Its dependents (cancelled in turn) and its batch slot are settled before the client hears back.
    // A running task's worker does the same when the task ends.
    if (outcome === 'cancelled') await this.workflows.ended(type, task.id, 'cancelled');
    // A schedule's run cancelled before it started: its schedule goes on with the next tick.
    if (outcome === 'cancelled' && scheduledTick(task.id) !== null) await this.schedules.skipCancelledRun(task);
    return { outcome, previous } as CancelOutcome;
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((queue) => queue.close()));
    await this.replication?.close();
  }
}

/** A new task waits `pending` until its time or while held, else it is `queued`. */
const initialStatus = (spec: TaskSpec): TaskStatus => (spec.runAtMs !== null || spec.workflow ? 'pending' : 'queued');
