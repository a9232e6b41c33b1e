// The janitor's part in workflows: redoes what a process that died half-way left undone, so no held
// task waits forever. Two passes per type, both idempotent and bounded by recent activity:
// - tasks that ended while still marked unsettled (their finisher died between BullMQ's move and
//   settling their dependents or batch slot) get that follow-up work again;
// - held tasks older than a grace are linked again once each (their creator may have died between
//   storing them and linking them with their dependencies and gate); a watermark keeps it to once.
import type { RedisClient } from '../redis/connection.js';
import type { TaskType } from '../config/schema.js';
import type { TaskJobData } from '../model/task.js';
import type { TaskKeys } from '../redis/keys.js';
import { defineEngineCommands, type EngineRedis } from '../redis/scripts.js';
import type { WorkflowCoordinator } from './workflow-coordinator.js';
import type { Ending, HeldTask } from './workflow-model.js';

const CHUNK = 500;

/** How long after its creation a held task is linked again: far longer than the API takes to link it. */
export const HELD_LINK_GRACE_MS = 60_000;

export class WorkflowReconciler {
  private readonly redis: EngineRedis;

  constructor(
    redis: RedisClient,
    private readonly keys: TaskKeys,
    private readonly coordinator: WorkflowCoordinator,
    private readonly heldGraceMs = HELD_LINK_GRACE_MS,
  ) {
    this.redis = defineEngineCommands(redis);
  }

  /** Both passes for one type; returns how many tasks each touched. */
  async reconcile(type: TaskType, now: number): Promise<{ redone: number; relinked: number }> {
    return { redone: await this.redoEnded(type), relinked: await this.relinkHeld(type, now) };
  }

  private async redoEnded(type: TaskType): Promise<number> {
    const k = (suffix: string): string => this.keys.bull(type, suffix);
    let redone = 0;
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.zscan(this.keys.unsettled(type), cursor, 'COUNT', CHUNK);
      cursor = next;
      const ids = flat.filter((_, i) => i % 2 === 0);
      if (ids.length === 0) continue;
      const pairs = await this.redis.te_finishedAmong(this.keys.unsettled(type), k('completed'), k('failed'), k(''), ...ids);
      const endings: Array<{ id: string; ending: Ending }> = [];
      for (let i = 0; i < pairs.length; i += 2) endings.push({ id: pairs[i]!, ending: pairs[i + 1] as Ending });
      await this.coordinator.redoEnded(type, endings);
      redone += endings.length;
    } while (cursor !== '0');
    return redone;
  }

  private async relinkHeld(type: TaskType, now: number): Promise<number> {
    const held = this.keys.bull(type, 'waiting-children');
    const upTo = Math.floor(now - this.heldGraceMs);
    let from = Number((await this.redis.get(this.keys.heldChecked(type))) ?? -1);
    if (upTo <= from) return 0;
    let relinked = 0;
    for (;;) {
      const rows = await this.redis.zrangebyscore(held, `(${from}`, upTo, 'WITHSCORES', 'LIMIT', 0, CHUNK);
      relinked += await this.relink(type, rows.filter((_, i) => i % 2 === 0));
      if (rows.length < CHUNK * 2) break;
      // A full chunk: go on from its last score, inclusive (tasks sharing it are linked again, which is
      // harmless); if every task of the chunk shares the score we started from, take that score whole.
      const last = Number(rows[rows.length - 1]);
      if (last - 1 <= from) {
        const same = await this.redis.zrangebyscore(held, last, last);
        relinked += await this.relink(type, same);
        from = last;
      } else from = last - 1;
    }
    await this.redis.set(this.keys.heldChecked(type), String(upTo));
    return relinked;
  }

  private async relink(type: TaskType, ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const stored = await Promise.all(ids.map((id) => this.redis.hget(this.keys.job(type, id), 'data')));
    const tasks: HeldTask[] = [];
    ids.forEach((id, i) => {
      const data = parseData(stored[i] ?? null);
      if (data?.dependencies) tasks.push({ type, id, dependencies: data.dependencies, batch: data.batch ?? null });
    });
    await this.coordinator.link(tasks);
    return tasks.length;
  }
}

function parseData(text: string | null): TaskJobData | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as TaskJobData;
  } catch {
    return null;
  }
}
