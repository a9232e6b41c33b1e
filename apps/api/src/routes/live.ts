// Live events and task logs (CONTRACT section 7): GET /tasks/{id}/events and GET /events (Server-Sent
// Events), GET /tasks/{id}/logs. A stream subscribes before it reads anything, so no change between
// the read and the subscription is lost (live/task-stream.ts drops what the read already holds).
import {
  compareStreamIds,
  EventsQuery,
  isFinal,
  readTaskLog,
  type RedisClient,
  type Subscription,
  type TaskEvent,
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
import { EventsCursor } from '../live/events-cursor.js';
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

/** At most this many events of a type are replayed to a resuming client; more is a `resync`. */
const REPLAY_LIMIT = 10_000;

/** The events written after each position, oldest first across the types, and the types with a gap. */
async function eventsMissed(hub: TaskEventHub, resumeFrom: Map<TaskType, string> | null): Promise<{ events: TaskEvent[]; incomplete: TaskType[] }> {
  if (!resumeFrom) return { events: [], incomplete: [] };
  const perType = await Promise.all([...resumeFrom].map(async ([type, after]) => ({ type, ...(await hub.eventsAfter(type, after, REPLAY_LIMIT)) })));
  const events = perType.flatMap((read) => read.events).sort((a, b) => compareStreamIds(a.id, b.id));
  return { events, incomplete: perType.filter((read) => !read.complete).map((read) => read.type) };
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
    const resumeFrom = EventsCursor.parse(req.get('last-event-id'), types);
    const relay = new EventRelay();
    const subscription = await hub.subscribe({ types }, relay.listener);
    // Resuming: what each type wrote after the client's position, read after subscribing so that
    // nothing falls between the two (the cursor drops what both deliver).
    let missed: { events: TaskEvent[]; incomplete: TaskType[] };
    try {
      missed = await eventsMissed(hub, resumeFrom);
    } catch (err) {
      subscription.close();
      throw err;
    }
    const cursor = new EventsCursor(new Map([...subscription.positions, ...(resumeFrom ?? [])]));
    const stream = startStream(streams, res, subscription);
    stream.comment('subscribed');
    // Events it can no longer get: the client should read the tasks' state again (GET /tasks).
    if (missed.incomplete.length) stream.send('resync', { reason: 'events_missed', types: missed.incomplete });
    const forward = (event: TaskEvent): void => {
      if (cursor.advance(event)) stream.send(event.event, event.data, cursor.toString());
    };
    for (const event of missed.events) forward(event);
    relay.start(forward);
  });

  router.get('/tasks/:id/logs', async (req, res) => {
    const task = await store.get(req.params.id);
    assertTypeAllowed(res, [task.type]);
    const logs = await readTaskLog(redis, keys.taskLog(task.type, task.id));
    res.json({ task_id: task.id, logs, count: logs.length } satisfies TaskLogs);
  });

  return router;
}
