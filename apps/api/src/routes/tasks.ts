// /tasks routes (CONTRACT section 3): create, batch, get, list, cancel.
import {
  ApiError,
  encodeListCursor,
  normaliseTaskBody,
  planWorkflows,
  SINGLE_TASK,
  taskBatchCreate,
  TaskListQuery,
  TaskType,
  validationError,
  zodDetails,
  type Config,
  type ErrorDetail,
  type ExecutorRegistry,
  type TaskBatchCreated,
  type TaskCancelled,
  type TaskCancelRequested,
  type TaskCreated,
  type TaskList,
  type TaskSpec,
  type TaskObject,
  type TaskStatus,
  type TaskStore,
  type BatchShape,
} from '@taskengine/core';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { principalOf } from '../middleware/authenticate.js';

export interface TaskRouteDeps {
  config: Config;
  store: TaskStore;
  executors: ExecutorRegistry;
}

export function bodyObject(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined || !req.is('application/json')) {
    throw validationError([{ path: '(body)', message: 'must be a JSON object sent with Content-Type: application/json' }]);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw validationError([{ path: '(body)', message: 'must be a JSON object' }]);
  }
  return body as Record<string, unknown>;
}

/** 403 unless the request's API key may use `type` (keys can be scoped to task types). */
export function assertTypeAllowed(res: Response, types: Iterable<unknown>): void {
  const { taskTypes } = principalOf(res);
  if (!taskTypes) return;
  const refused = [...new Set([...types].filter((type): type is TaskType => TaskType.safeParse(type).success && !taskTypes.has(type as TaskType)))];
  if (refused.length) {
    throw new ApiError(403, 'forbidden', `this API key may not use task type${refused.length > 1 ? 's' : ''} ${refused.join(', ')}`, { task_types: refused });
  }
}

/** The types a scoped key may use; undefined for a key that may use every type. */
export function scopedTypes(res: Response): TaskType[] | undefined {
  const { taskTypes } = principalOf(res);
  return taskTypes ? TaskType.options.filter((type) => taskTypes.has(type)) : undefined;
}

export const typeOfBody = (item: unknown): unknown => (item && typeof item === 'object' ? (item as { type?: unknown }).type : undefined);

export function taskRoutes({ config, store, executors }: TaskRouteDeps): Router {
  const router = Router();

  /**
   * Resolves what the specs wait for (dependencies, a batch's order and cap); a bad reference is a 400
   * naming it, a dependency of a type the API key may not use a 403. Costs nothing for specs that wait
   * for nothing.
   */
  async function planWaits(res: Response, specs: TaskSpec[], shape: BatchShape, pathOf: (i: number) => string): Promise<void> {
    if (shape.parallel && shape.maxConcurrency === null && specs.every((spec) => !spec.dependsOn?.length)) return;
    const findTypes = async (ids: string[]) => new Map([...(await store.getMany(ids))].map(([id, task]) => [id, task.type]));
    const { problems, dependencyTypes } = await planWorkflows(specs, shape, findTypes, pathOf);
    if (problems.length) throw validationError(problems);
    assertTypeAllowed(res, dependencyTypes);
  }

  const context = () => ({ config, executors, now: Date.now() });
  // Each task is checked on its own afterwards (normaliseTaskBody), so its problems are named tasks[i]….
  const BatchEnvelope = taskBatchCreate(config.tasks.max_batch_size, z.unknown());

  router.post('/tasks', async (req, res) => {
    const ctx = context();
    const body = bodyObject(req);
    assertTypeAllowed(res, [body.type]);
    const { spec, problems } = normaliseTaskBody(body, ctx);
    if (!spec) throw validationError(problems);
    await planWaits(res, [spec], SINGLE_TASK, () => '');
    const [{ task, created }] = (await store.create([spec], ctx.now)) as [{ task: TaskObject; created: boolean }];
    res.status(created ? 201 : 200).json({ success: true, task_id: task.id, status: task.status, created_at: task.created_at, task } satisfies TaskCreated);
  });

  router.post('/tasks/batch', async (req, res) => {
    const envelope = BatchEnvelope.safeParse(bodyObject(req));
    if (!envelope.success) throw validationError(zodDetails(envelope.error));
    const { tasks, parallel = true, max_concurrency: maxConcurrency = null } = envelope.data;
    assertTypeAllowed(res, tasks.map(typeOfBody));
    const problems: ErrorDetail[] = [];
    const specs: TaskSpec[] = [];
    const seen = new Set<string>();
    const ctx = context();
    tasks.forEach((item, i) => {
      const result = normaliseTaskBody(item, ctx, `tasks[${i}].`);
      problems.push(...result.problems);
      if (result.spec) {
        if (result.spec.clientId && seen.has(result.spec.id)) problems.push({ path: `tasks[${i}].id`, message: 'repeats an id earlier in the batch' });
        seen.add(result.spec.id);
        specs.push(result.spec);
      }
    });
    if (problems.length) throw validationError(problems);
    await planWaits(res, specs, { parallel, maxConcurrency }, (i) => `tasks[${i}].`);
    const created = await store.createSummaries(specs, ctx.now);
    res.status(201).json({
      success: true,
      task_ids: created.map((task) => task.task_id),
      count: created.length,
      tasks: created,
    } satisfies TaskBatchCreated);
  });

  router.get('/tasks', async (req, res) => {
    const parsed = TaskListQuery.safeParse(req.query);
    if (!parsed.success) throw validationError(zodDetails(parsed.error));
    const query = parsed.data;
    // A scoped key lists only its own types; naming another type is refused like any other use of it.
    if (query.types) assertTypeAllowed(res, query.types);
    else query.types = scopedTypes(res);
    const types = query.types ?? TaskType.options;
    const [page, counts] = await Promise.all([store.list(query), store.countsByType(types)]);
    let total = 0;
    for (const type of types) {
      for (const [status, n] of Object.entries(counts[type].statuses)) {
        if (!query.statuses || query.statuses.includes(status as TaskStatus)) total += n;
      }
    }
    res.json({
      tasks: page.tasks,
      total,
      count: page.tasks.length,
      filters: { status: query.statuses?.join(',') ?? null, type: query.types?.join(',') ?? null },
      next_cursor: page.nextCursor ? encodeListCursor(page.nextCursor) : null,
    } satisfies TaskList);
  });

  router.get('/tasks/:id', async (req, res) => {
    const task = await store.get(req.params.id);
    assertTypeAllowed(res, [task.type]);
    res.json(task satisfies TaskObject);
  });

  router.post('/tasks/:id/cancel', async (req, res) => {
    const task = await store.get(req.params.id);
    assertTypeAllowed(res, [task.type]);
    const outcome = await store.cancel(task);
    if (!outcome) throw new ApiError(404, 'task_not_found', `task ${task.id} not found`);
    if (outcome.outcome === 'final') {
      throw new ApiError(409, 'task_not_cancellable', `task ${task.id} is already ${outcome.previous}`, { status: outcome.previous });
    }
    if (outcome.outcome === 'cancelled') {
      return res.json({ success: true, task_id: task.id, status: 'cancelled', previous_status: outcome.previous } satisfies TaskCancelled);
    }
    // Running: wait for its worker to stop the work, up to server.cancel_wait_seconds.
    const deadline = Date.now() + config.server.cancel_wait_seconds * 1000;
    let current = task;
    for (let delay = 10; Date.now() < deadline; delay = Math.min(delay * 2, 100)) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, Math.max(0, deadline - Date.now()))));
      current = await store.get(task.id);
      if (current.status === 'pending' || current.status === 'queued') {
        // Its attempt ended and it went back to wait for a retry: take it out of the queue now.
        const again = await store.cancel(current);
        if (again?.outcome === 'cancelled') current = { ...current, status: 'cancelled' };
      }
      if (current.status !== 'running') break;
    }
    if (current.status === 'cancelled') {
      return res.json({ success: true, task_id: task.id, status: 'cancelled', previous_status: 'running' } satisfies TaskCancelled);
    }
    if (current.status === 'running' || current.status === 'queued' || current.status === 'pending') {
      return res.status(202).json({ success: true, task_id: task.id, status: 'running', cancel_requested: true } satisfies TaskCancelRequested);
    }
    throw new ApiError(409, 'task_not_cancellable', `task ${task.id} ended ${current.status} before its worker saw the cancel`, { status: current.status });
  });

  return router;
}
