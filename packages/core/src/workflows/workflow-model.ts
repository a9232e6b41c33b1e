// The shapes of workflows (CONTRACT section 7): what a held task waits for, as the API plans it, as the
// job's data keeps it, and as the job hash's small fields let Lua scripts decide on it.
//
// A task that must wait (it has dependencies, or a slot in a capped batch) is stored *held*: a BullMQ
// job in the `waiting-children` zset, reading `pending`. Job hash fields beside BullMQ's own:
//   te_need  how many distinct dependencies must complete        (settle-held-task-13.lua)
//   te_gate  "<gate type>:<batch id>:<index>" for a capped batch  (it must also get a slot)
//   te_slot  "1" once its batch granted it a slot
import type { TaskType } from '../config/schema.js';

/** A task by id and type (the type decides which Redis slot holds it). */
export interface TaskRef {
  task_id: string;
  type: TaskType;
}

/** A task's place in a batch whose `max_concurrency` is below its size. */
export interface BatchSlot {
  batch_id: string;
  /** The gate lives in this type's slot: the batch's first task's type. */
  gate_type: TaskType;
  /** Position in the batch: slots go to ready tasks lowest index first. */
  index: number;
  max_concurrency: number;
}

/** What a held task waits for. */
export interface TaskWorkflow {
  dependencies: TaskRef[];
  batch: BatchSlot | null;
}

/** How a task ended, as its dependents are told. */
export type Ending = 'completed' | 'failed' | 'cancelled' | 'timeout';

/** A held task as the coordinator links it: where it is and what it waits for. */
export interface HeldTask extends TaskWorkflow {
  type: TaskType;
  id: string;
}

/** Member of a dependents set or a batch gate: `<type>:<id>` (ids never contain a colon). */
export const taskMember = (type: TaskType, id: string): string => `${type}:${id}`;

export function parseTaskMember(member: string): { type: TaskType; id: string } {
  const colon = member.indexOf(':');
  return { type: member.slice(0, colon) as TaskType, id: member.slice(colon + 1) };
}

/** The te_gate field of a batch task. */
export const gateField = (batch: BatchSlot): string => `${batch.gate_type}:${batch.batch_id}:${batch.index}`;

export function parseGateField(field: string): { gateType: TaskType; batchId: string; index: number } {
  const [gateType, batchId, index] = field.split(':') as [TaskType, string, string];
  return { gateType, batchId, index: Number(index) };
}
