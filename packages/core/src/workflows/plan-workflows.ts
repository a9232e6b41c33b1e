// Turns a request's dependency ids and batch options into each task's workflow (what it waits for),
// before anything is stored: ids resolved to tasks (and their types, which decide their Redis slots),
// a `parallel: false` batch chained, a capped batch given its slot gate. Problems come back as
// validation details naming the field, so a bad reference is a 400 and nothing is created.
import { createHash, randomUUID } from 'node:crypto';
import type { TaskType } from '../config/schema.js';
import type { ErrorDetail } from '../contracts/responses.js';
import { canonicalJson, type TaskSpec } from '../contracts/task-create.js';
import type { TaskRef } from './workflow-model.js';

export interface BatchShape {
  /** false: each task depends on the one before it. */
  parallel: boolean;
  /** At most this many of the batch's tasks released at once; null: no limit. */
  maxConcurrency: number | null;
}

export const SINGLE_TASK: BatchShape = { parallel: true, maxConcurrency: null };

export interface WorkflowPlan {
  problems: ErrorDetail[];
  /** Types of the tasks depended on outside the request (an API key scoped to types must be allowed them). */
  dependencyTypes: TaskType[];
}

/**
 * Sets `workflow` on the specs that must wait and folds it into their fingerprints. `findTypes` looks
 * up ids outside the request (unknown ones, and ones past retention, are missing from its answer);
 * `pathOf(i)` is the path prefix of spec i in the request (`tasks[3].` or ``). Tasks with no
 * dependencies and no batch cap are left alone, and no lookup is made for them.
 */
export async function planWorkflows(
  specs: TaskSpec[],
  shape: BatchShape,
  findTypes: (ids: string[]) => Promise<Map<string, TaskType>>,
  pathOf: (index: number) => string,
): Promise<WorkflowPlan> {
  const problems: ErrorDetail[] = [];
  const position = new Map(specs.map((spec, i) => [spec.id, i]));
  const outside = new Set<string>();
  for (const [i, spec] of specs.entries()) {
    for (const [j, id] of (spec.dependsOn ?? []).entries()) {
      const at = position.get(id);
      const path = `${pathOf(i)}config.dependencies[${j}]`;
      if (at === i) problems.push({ path, message: 'a task cannot depend on itself' });
      else if (at !== undefined && at > i) {
        problems.push({ path, message: `names tasks[${at}], later in the batch; a task may depend only on tasks before it` });
      } else if (at === undefined) outside.add(id);
    }
  }
  const found = outside.size ? await findTypes([...outside]) : new Map<string, TaskType>();
  for (const [i, spec] of specs.entries()) {
    spec.dependsOn?.forEach((id, j) => {
      if (outside.has(id) && !found.has(id)) {
        problems.push({ path: `${pathOf(i)}config.dependencies[${j}]`, message: `no task ${id} (unknown, or past retention)` });
      }
    });
  }
  if (problems.length) return { problems, dependencyTypes: [] };

  const gated = shape.parallel && shape.maxConcurrency !== null && shape.maxConcurrency < specs.length;
  const batchId = gated ? randomUUID() : '';
  for (const [i, spec] of specs.entries()) {
    const refs = new Map<string, TaskRef>();
    for (const id of spec.dependsOn ?? []) {
      const at = position.get(id);
      refs.set(id, { task_id: id, type: at !== undefined ? specs[at]!.type : found.get(id)! });
    }
    if (!shape.parallel && i > 0) refs.set(specs[i - 1]!.id, { task_id: specs[i - 1]!.id, type: specs[i - 1]!.type });
    if (refs.size === 0 && !gated) continue;
    spec.workflow = {
      dependencies: [...refs.values()],
      batch: gated ? { batch_id: batchId, gate_type: specs[0]!.type, index: i, max_concurrency: shape.maxConcurrency! } : null,
    };
    // The same client id posted again must mean the same waiting too (else 409), so what it waits
    // for joins the fingerprint; the batch id does not (it is new on every request).
    if (spec.fingerprint) {
      const waits = canonicalJson({ dependencies: [...refs.keys()], max_concurrency: gated ? shape.maxConcurrency : null });
      spec.fingerprint = createHash('sha256').update(`${spec.fingerprint}|${waits}`).digest('base64url').slice(0, 22);
    }
  }
  return { problems, dependencyTypes: [...new Set(found.values())] };
}
