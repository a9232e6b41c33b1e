// Live events and task logs (CONTRACT section 7): GET /tasks/{id}/events and GET /events (Server-Sent
// Events), GET /tasks/{id}/logs. A stream subscribes before it reads anything, so no change between
// the read and the subscription is lost (live/task-stream.ts drops what the read already holds).
import {
  EventsQuery,
  isFinal,
  readTaskLog,
  type RedisClient,
  type Subscription,
  type TaskEventHub,
  type TaskKeys,
  type TaskLogs,
  type TaskStore,
  TaskType,
  validationError,
  zodDetails,
} from '@taskengine/core';
import { Router, type Response } from 'express';
import type { EventStream, EventStreams } from '../live/event-streams.js';
import { currentState, EventRelay, TaskStream } from '../live/task-stream.js';
import { assertTypeAllowed, scopedTypes } from './tasks.js';

export interface LiveRouteDeps {
  redis: RedisClient;
  keys: TaskKeys;
  store: TaskStore;
  hub: TaskEventHub;
  streams: EventStreams;
}

/** Starts the response's event stream, which ends the subscription when it ends. */
function startStream(streams: EventStreams, res: Response, subscription: Subscription): EventStream {
  try {
    return streams.start(res, () => subscription.close());
  } catch (err) {
    subscription.close();
    throw err;
  }
}

export function liveRoutes({ redis, keys, store, hub, streams }: LiveRouteDeps): Router {
  const router = Router();

  router.get('/tasks/:id/events', async (req, res) => {
    const found = await store.get(req.params.id);
    assertTypeAllowed(res, [found.type]);
    // A browser's EventSource reconnects by itself after a stream ends (it sends Last-Event-ID); a 204
    // is what tells it that nothing more will come.
    if (req.get('last-event-id') !== undefined && isFinal(found.status)) {
      res.status(204).end();
      return;
    }
    const relay = new EventRelay();
    const subscription = await hub.subscribe({ types: [found.type], taskId: found.id }, relay.listener);
    let read: Awaited<ReturnType<TaskStore['getWithEventPosition']>>;
    try {
      read = await store.getWithEventPosition(found.type, found.id);
    } catch (err) {
      subscription.close();
      throw err;
    }
    const stream = startStream(streams, res, subscription);
    const first = currentState(read.task);
    stream.send('status', first, read.position);
    const task = new TaskStream(first, read.position);
    if (task.ended) return stream.end();
    relay.start((event) => {
      const news = task.next(event);
      if (!news) return;
      stream.send(news.event, news.data, news.id);
      if (task.ended) stream.end();
    });
  });

  router.get('/events', async (req, res) => {
    const parsed = EventsQuery.safeParse(req.query);
    if (!parsed.success) throw validationError(zodDetails(parsed.error));
    let types = parsed.data.types;
    // A scoped key follows only its own types; naming another is refused like any other use of it.
    if (types) assertTypeAllowed(res, types);
    else types = scopedTypes(res) ?? TaskType.options;
    const relay = new EventRelay();
    const subscription = await hub.subscribe({ types }, relay.listener);
    const stream = startStream(streams, res, subscription);
    stream.comment('subscribed');
    relay.start((event) => stream.send(event.event, event.data));
  });

  router.get('/tasks/:id/logs', async (req, res) => {
    const task = await store.get(req.params.id);
    assertTypeAllowed(res, [task.type]);
    const logs = await readTaskLog(redis, keys.taskLog(task.type, task.id));
    res.json({ task_id: task.id, logs, count: logs.length } satisfies TaskLogs);
  });

  return router;
}
