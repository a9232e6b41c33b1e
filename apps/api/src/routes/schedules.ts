// /schedules routes (CONTRACT section 7): create, list, get, delete. A key scoped to task types sees and
// touches only schedules whose task is of its types, as with tasks.
import {
  ApiError,
  normaliseScheduleBody,
  TaskType,
  validationError,
  type Config,
  type ExecutorRegistry,
  type ScheduleCreated,
  type ScheduleDeleted,
  type ScheduleList,
  type ScheduleObject,
  type TaskStore,
} from '@taskengine/core';
import { Router, type Response } from 'express';
import { assertTypeAllowed, bodyObject, scopedTypes, typeOfBody } from './tasks.js';

export interface ScheduleRouteDeps {
  config: Config;
  store: TaskStore;
  executors: ExecutorRegistry;
}

/** The engine's schedule ids are UUIDs; anything unlike an id is simply not found (and never reaches BullMQ). */
const PLAUSIBLE_ID = /^[A-Za-z0-9_.-]{1,128}$/;

const scheduleNotFound = (id: string): ApiError => new ApiError(404, 'not_found', `schedule ${id} not found`);

export function scheduleRoutes({ config, store, executors }: ScheduleRouteDeps): Router {
  const router = Router();
  const { schedules } = store;

  /** The schedule, if this request's key may see it: 404 when there is none, 403 when it is of another type. */
  async function visibleSchedule(res: Response, id: string): Promise<ScheduleObject> {
    const schedule = PLAUSIBLE_ID.test(id) ? await schedules.get(id) : null;
    if (!schedule) throw scheduleNotFound(id);
    assertTypeAllowed(res, [schedule.task.type]);
    return schedule;
  }

  router.post('/schedules', async (req, res) => {
    const body = bodyObject(req);
    assertTypeAllowed(res, [typeOfBody(body.task)]);
    const now = Date.now();
    const { spec, problems } = normaliseScheduleBody(body, { config, executors, now });
    if (!spec) throw validationError(problems);
    const schedule = await schedules.create(spec, now);
    // redis.wait_replicas: answered once replicas have the schedule and its first run.
    await store.replication?.confirmEarlierWrites({ kind: 'schedule', scheduleId: schedule.id });
    res.status(201).json({ success: true, id: schedule.id, schedule } satisfies ScheduleCreated);
  });

  router.get('/schedules', async (_req, res) => {
    const list = await schedules.list(scopedTypes(res) ?? TaskType.options);
    res.json({ schedules: list, total: list.length } satisfies ScheduleList);
  });

  router.get('/schedules/:id', async (req, res) => {
    res.json((await visibleSchedule(res, req.params.id)) satisfies ScheduleObject);
  });

  router.delete('/schedules/:id', async (req, res) => {
    const schedule = await visibleSchedule(res, req.params.id);
    // Deleted by a concurrent request in between: that one answered 200; this one finds nothing.
    if (!(await schedules.remove(schedule))) throw scheduleNotFound(schedule.id);
    res.json({ success: true, id: schedule.id, deleted: true } satisfies ScheduleDeleted);
  });

  return router;
}
