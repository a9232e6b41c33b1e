// Moves held tasks on (CONTRACT section 7): links a new held task with the tasks it depends on and with
// its batch's slot gate, and, when any task ends, tells its dependents and its gate. Readiness is decided
// at those moments only, never by polling: by the API right after a create or a cancel, by workers when
// a task ends, and by the janitor when it redoes the work of a process that died half-way.
//
// Every step touches one Redis slot (a dependency's, a dependent's, or a gate's) and is idempotent, so
// steps may run twice, in any process, in either order (see the Lua scripts named below):
//   link-dependent        register with a dependency and read how it ended, in one step
//   settle-held-task      record news for a held task; release it (exactly once) or cancel it
//   finished-links        what a task's end sets off: its dependents and its gate
//   batch-gate            who gets a capped batch's free slots
// A task whose end has follow-up work is in its type's `te:unsettled` zset until that work is done.
import type { RedisClient } from '../redis/connection.js';
import type { TaskType } from '../config/schema.js';
import { decodeFailure, encodeFailure } from '../model/failure.js';
import type { TaskStatus } from '../model/status.js';
import type { TaskKeys } from '../redis/keys.js';
import { defineEngineCommands, type EngineRedis } from '../redis/scripts.js';
import { GroupCommitter } from '../store/group-committer.js';
import { parseGateField, parseTaskMember, taskMember, type Ending, type HeldTask } from './workflow-model.js';

/** What became of a held task while it was being settled (the create answer reports it). */
export interface HeldOutcome {
  status: TaskStatus;
  error?: string;
  error_code?: string;
  completed_at?: string;
}

/** Outcomes seen during one operation, by task id. */
export type HeldOutcomes = Map<string, HeldOutcome>;

interface TaskAt {
  type: TaskType;
  id: string;
}

type News = { kind: 'dependency'; dependencyId: string; ending: Ending | 'missing' } | { kind: 'slot' };

/** The sentence a task cancelled for its dependency's sake carries (error_code dependency_failed). */
export function dependencyFailure(dependencyId: string, ending: Ending | 'missing'): string {
  const how = ending === 'missing' ? 'no longer exists (past retention)' : `ended ${ending}`;
  return encodeFailure('dependency_failed', `dependency ${dependencyId} ${how}`);
}

export class WorkflowCoordinator {
  private readonly redis: EngineRedis;

  /**
   * Every task that ends is looked up here (one ZSCORE in Redis for a task with no follow-up); lookups
   * arriving while others await Redis go together, one script per type, so a busy worker pays one
   * round trip per group rather than per task.
   */
  private readonly lookups = new GroupCommitter<TaskAt, string[] | null>(async (items) => {
    const byType = new Map<TaskType, string[]>();
    for (const { type, id } of items) byType.set(type, [...(byType.get(type) ?? []), id]);
    const found = new Map<string, string[]>();
    await Promise.all(
      [...byType].map(async ([type, ids]) => {
        for (const entry of await this.redis.te_finishedLinks(this.keys.unsettled(type), this.keys.bull(type, ''), ...ids)) {
          found.set(taskMember(type, entry[0]!), entry);
        }
      }),
    );
    return items.map(({ type, id }) => found.get(taskMember(type, id)) ?? null);
  });

  constructor(
    redis: RedisClient,
    private readonly keys: TaskKeys,
  ) {
    this.redis = defineEngineCommands(redis);
  }

  /**
   * Links held tasks just stored (or, from the janitor, stored by a process that may have died before
   * linking them): registers each with its dependencies, settles those that already ended, and puts the
   * ones that only wait for a slot in their batch's gate. Returns what became of tasks at once.
   */
  async link(tasks: HeldTask[], now = Date.now()): Promise<HeldOutcomes> {
    const outcomes: HeldOutcomes = new Map();
    const readyAtOnce: HeldTask[] = [];
    await Promise.all(
      tasks.map(async (task) => {
        if (task.dependencies.length === 0) {
          if (task.batch) readyAtOnce.push(task);
          return;
        }
        const member = taskMember(task.type, task.id);
        const states = await Promise.all(
          task.dependencies.map(({ task_id, type }) =>
            this.redis.te_linkDependent(
              this.keys.dependents(type, task_id), this.keys.unsettled(type), this.keys.bull(type, 'completed'), this.keys.bull(type, 'failed'),
              this.keys.job(type, task_id), task_id, member, now,
            ),
          ),
        );
        // Each ended dependency is news for the task; the last completed one releases it.
        for (const [i, state] of states.entries()) {
          if (state === 'pending') continue;
          const news: News = { kind: 'dependency', dependencyId: task.dependencies[i]!.task_id, ending: state as Ending | 'missing' };
          if (await this.settle(task, news, outcomes, now)) break;
        }
      }),
    );
    // Tasks waiting for nothing but a slot enter their gate together, in batch order.
    const byGate = new Map<string, HeldTask[]>();
    for (const task of readyAtOnce) {
      const key = `${task.batch!.gate_type}:${task.batch!.batch_id}`;
      byGate.set(key, [...(byGate.get(key) ?? []), task]);
    }
    await Promise.all(
      [...byGate.values()].map((members) => {
        const { gate_type, batch_id } = members[0]!.batch!;
        const entries = members.sort((a, b) => a.batch!.index - b.batch!.index).flatMap((t) => [taskMember(t.type, t.id), t.batch!.index]);
        return this.enterGate(gate_type, batch_id, entries, outcomes, now);
      }),
    );
    return outcomes;
  }

  /**
   * A task ended: settle its dependents and free its batch slot, if it has either. Called by workers for
   * every task that ends and by the API for the tasks it cancels; concurrent calls are grouped.
   */
  async ended(type: TaskType, id: string, ending: Ending, outcomes?: HeldOutcomes): Promise<void> {
    const links = await this.lookups.submit({ type, id });
    if (links) await this.followUp(type, links, ending, false, outcomes);
  }

  /**
   * The janitor's redo of ended(): for tasks that ended while marked unsettled, as if the process that
   * ended them had died before finishing their follow-up work. Every grant of their gates is re-sent.
   */
  async redoEnded(type: TaskType, endings: Array<{ id: string; ending: Ending }>): Promise<void> {
    if (endings.length === 0) return;
    const how = new Map(endings.map(({ id, ending }) => [id, ending]));
    const entries = await this.redis.te_finishedLinks(this.keys.unsettled(type), this.keys.bull(type, ''), ...how.keys());
    await Promise.all(entries.map((links) => this.followUp(type, links, how.get(links[0]!)!, true, undefined)));
  }

  /** `links` = finished-links' entry: [id, gate field or "", dependent members...]. */
  private async followUp(type: TaskType, links: string[], ending: Ending, repair: boolean, outcomes: HeldOutcomes | undefined): Promise<void> {
    const [id, gate, ...dependents] = links as [string, string, ...string[]];
    const now = Date.now();
    await Promise.all(
      dependents.map((member) => this.settle(parseTaskMember(member), { kind: 'dependency', dependencyId: id, ending }, outcomes, now)),
    );
    if (gate) {
      const { gateType, batchId } = parseGateField(gate);
      const gateKeys = this.keys.batchGate(gateType, batchId);
      const granted = await this.redis.te_batchGate(
        gateKeys.hash, gateKeys.ready, gateKeys.holders, gateKeys.left, repair ? 'repair' : 'leave', taskMember(type, id),
      );
      await Promise.all(granted.map((member) => this.settle(parseTaskMember(member), { kind: 'slot' }, outcomes, now)));
    }
    // Only now: if this process dies before here, the janitor finds the task still unsettled and redoes it.
    await this.redis.zrem(this.keys.unsettled(type), id);
  }

  private async enterGate(
    gateType: TaskType,
    batchId: string,
    entries: Array<string | number>,
    outcomes: HeldOutcomes | undefined,
    now: number,
  ): Promise<void> {
    const gateKeys = this.keys.batchGate(gateType, batchId);
    const granted = await this.redis.te_batchGate(gateKeys.hash, gateKeys.ready, gateKeys.holders, gateKeys.left, 'ready', ...entries);
    await Promise.all(granted.map((member) => this.settle(parseTaskMember(member), { kind: 'slot' }, outcomes, now)));
  }

  /**
   * Tells a held task one piece of news (settle-held-task-13.lua) and acts on the answer: a task
   * cancelled for its dependency's sake has ended in turn; one whose dependencies are met asks its gate
   * for a slot. Returns true when further dependency news would change nothing (released, ended, or
   * every dependency met).
   */
  private async settle(task: TaskAt, news: News, outcomes: HeldOutcomes | undefined, now: number): Promise<boolean> {
    const { type, id } = task;
    const k = (suffix: string): string => this.keys.bull(type, suffix);
    const dependency = news.kind === 'dependency' ? news : undefined;
    const answer = await this.redis.te_settleHeldTask(
      this.keys.job(type, id), this.keys.dependencyOutcomes(type, id), k('waiting-children'), k('prioritized'), k('delayed'),
      k('marker'), k('meta'), k('active'), k('pc'), k('events'), k('failed'), this.keys.cancelled(type), this.keys.stats(type),
      id, news.kind, dependency?.dependencyId ?? '', dependency?.ending ?? '', now,
      dependency ? dependencyFailure(dependency.dependencyId, dependency.ending) : '',
    );
    switch (answer[0]) {
      case 'released':
        outcomes?.set(id, { status: answer[1] as TaskStatus });
        return true;
      case 'cancelled': {
        const failure = decodeFailure(answer[1]);
        outcomes?.set(id, {
          status: 'cancelled',
          error: failure?.message ?? '',
          error_code: failure?.code ?? 'dependency_failed',
          completed_at: new Date(Number(answer[2])).toISOString(),
        });
        await this.ended(type, id, 'cancelled', outcomes);
        return true;
      }
      case 'ready': {
        const { gateType, batchId, index } = parseGateField(answer[1]!);
        await this.enterGate(gateType, batchId, [taskMember(type, id), index], outcomes, now);
        return true;
      }
      case 'waiting':
        return false;
      default: // missing, not_held
        return true;
    }
  }
}
