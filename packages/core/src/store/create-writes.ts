// What one create request hands to the group committer (TaskStore.commit): its new tasks and the slot
// gates of its capped batches, and the error for a create that Redis Cluster stored only in part.
import type { TaskType } from '../config/schema.js';
import type { TaskSpec } from '../contracts/task-create.js';
import { ApiError } from '../errors.js';

/** A capped batch's slot gate, opened in the slot of the batch's first task's type. */
export interface GateOpening {
  type: TaskType;
  batchId: string;
  limit: number;
  /** Members stored now (an idempotent repeat is not one), so the gate deletes itself after the last. */
  count: number;
}

export interface CreateWrite {
  specs: TaskSpec[];
  gates: GateOpening[];
  now: number;
}

/** The gate of each capped batch among `specs`, counting only these specs as members. */
export function gateOpenings(specs: TaskSpec[]): GateOpening[] {
  const gates = new Map<string, GateOpening>();
  for (const spec of specs) {
    const batch = spec.workflow?.batch;
    if (!batch) continue;
    const gate = gates.get(batch.batch_id) ?? { type: batch.gate_type, batchId: batch.batch_id, limit: batch.max_concurrency, count: 0 };
    gate.count++;
    gates.set(batch.batch_id, gate);
  }
  return [...gates.values()];
}

/**
 * A create of several types on Redis Cluster whose write succeeded for some types and failed for
 * others (a node down or full): the stored tasks exist and will run; the others do not.
 */
export class PartialCreate extends Error {
  constructor(
    readonly storedIds: string[],
    override readonly cause: unknown,
  ) {
    super(`stored ${storedIds.length} tasks of the request, not the rest: ${(cause as Error)?.message ?? cause}`);
  }

  /** What the client is told: 503, which tasks exist, and that a retry with the same ids completes it. */
  toApiError(requested: number): ApiError {
    return new ApiError(
      503,
      'unavailable',
      `Redis Cluster stored ${this.storedIds.length} of the ${requested} tasks (a node holding the other task types failed); ` +
        'retry the same request with the same task ids to create the rest exactly once',
      { reason: 'partially_stored', stored_task_ids: this.storedIds },
    );
  }
}
