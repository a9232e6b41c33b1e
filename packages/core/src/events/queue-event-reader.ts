// Follows one task type's event stream for the subscribers of this process: one blocking XREAD loop
// on a connection of its own, whatever the number of subscribers, started by the first and stopped
// a little after the last leaves. Status changes get the task's own fields (progress, retries, error
// code) in one pipelined read per batch, and only for tasks someone is watching.
import { duplicateRedis, type RedisClient } from '../redis/connection.js';
import type { TaskType } from '../config/schema.js';
import type { TaskProgressEvent, TaskStatusEvent } from '../contracts/live.js';
import type { Logger } from '../logger.js';
import { decodeFailure } from '../model/failure.js';
import { retryCount, taskProgress } from '../model/task.js';
import type { TaskKeys } from '../redis/keys.js';
import { fieldsAsOfEachEvent, QueueEventDecoder, streamIdTime, type QueueEvent, type StreamEntry, type TaskFields } from './queue-events.js';

/** An event as the API sends it: the SSE event name, the stream entry it came from, the data. */
export type TaskEvent =
  | { event: 'status'; id: string; data: TaskStatusEvent }
  | { event: 'progress'; id: string; data: TaskProgressEvent };

export type TaskEventListener = (event: TaskEvent) => void;

/** One subscriber's interest in this type: every task (taskId undefined) or one. */
export interface Interest {
  readonly taskId: string | undefined;
  readonly listener: TaskEventListener;
}

/** How long one XREAD waits for entries; the connection's own timeouts sit above it. */
const BLOCK_MS = 2000;
const BATCH = 1000;
const MAX_BACKOFF_MS = 2000;

/** One connected read loop; a new one replaces it after a stop, so a stopped loop never delivers. */
interface Run {
  readonly connection: RedisClient;
  /** The last entry delivered (or the stream's newest when the run started). */
  position: string;
  stopped: boolean;
  /** Settles once `position` is known: subscribers get every entry after it. */
  readonly ready: Promise<void>;
}

export interface QueueEventReaderOptions {
  lingerMs: number;
  logger?: Logger;
}

export class QueueEventReader {
  private readonly interests = new Set<Interest>();
  private readonly typeWide = new Set<Interest>();
  private readonly byTask = new Map<string, Set<Interest>>();
  private run: Run | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: TaskKeys,
    private readonly type: TaskType,
    private readonly options: QueueEventReaderOptions,
  ) {}

  /**
   * Registers an interest and starts reading if needed; `ready` settles once every entry written from
   * now on is sure to be delivered (it rejects when Redis cannot be reached) and gives the stream id
   * after which this interest gets every entry.
   */
  add(taskId: string | undefined, listener: TaskEventListener): { interest: Interest; ready: Promise<string> } {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    const interest: Interest = { taskId, listener };
    this.interests.add(interest);
    if (taskId === undefined) this.typeWide.add(interest);
    else {
      let set = this.byTask.get(taskId);
      if (!set) this.byTask.set(taskId, (set = new Set()));
      set.add(interest);
    }
    const run = (this.run ??= this.start());
    // Read when the run is ready: the entry last dispatched, after which this interest sees every one.
    return { interest, ready: run.ready.then(() => run.position) };
  }

  /**
   * The type's events written after `after` (a stream id this API sent a client before), oldest first,
   * for a client resuming its stream: at most `limit`. `complete` is false when the client missed
   * entries it cannot get back: `after` is no longer in the stream (BullMQ trims it to about 10,000
   * entries) or more than `limit` were written since.
   */
  async eventsAfter(after: string, limit: number): Promise<{ events: TaskEvent[]; complete: boolean }> {
    // From `after` itself: the decoder reads an entry in the light of the one before it.
    const entries = await this.redis.xrange(this.keys.events(this.type), after, '+', 'COUNT', limit + 1);
    const decoder = new QueueEventDecoder();
    const decoded = entries.map(([id, flat]) => decoder.decode(streamEntry(id, flat)));
    const stillThere = entries[0]?.[0] === after;
    const news = stillThere ? decoded.slice(1) : decoded;
    // '0-0': the stream was empty when the client's stream began, so nothing can be missing before.
    const complete = (stillThere || after === '0-0' || entries.length === 0) && news.length <= limit;
    const newer = news.slice(0, limit).filter((event): event is QueueEvent => event !== null);
    return { events: await this.withFields(newer), complete };
  }

  remove(interest: Interest): void {
    if (!this.interests.delete(interest)) return;
    if (interest.taskId === undefined) this.typeWide.delete(interest);
    else {
      const set = this.byTask.get(interest.taskId);
      set?.delete(interest);
      if (set?.size === 0) this.byTask.delete(interest.taskId);
    }
    if (this.interests.size === 0 && this.run && !this.lingerTimer) {
      // Streams opened one after another (a CLI waiting on tasks in turn) reuse the connection.
      this.lingerTimer = setTimeout(() => this.stop(), this.options.lingerMs);
      this.lingerTimer.unref();
    }
  }

  /** Disconnects now; a later add() starts again from the stream's newest entry. */
  stop(): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    const run = this.run;
    this.run = undefined;
    if (!run) return;
    run.stopped = true;
    run.connection.disconnect();
  }

  private start(): Run {
    const connection = duplicateRedis(this.redis, {
      connectionName: `${this.keys.prefix}:events:${this.type}`,
      // The API's own connection fails commands at once while Redis is away; this one waits for it to
      // come back, and its timeouts bound a read lost on a dead link (the loop then reads again).
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      commandTimeout: BLOCK_MS + 3000,
      blockingTimeout: BLOCK_MS + 3000,
    });
    connection.on('error', () => {});
    const run: Run = {
      connection,
      position: '0-0',
      stopped: false,
      ready: this.redis.xrevrange(this.keys.events(this.type), '+', '-', 'COUNT', 1).then((newest) => {
        run.position = newest[0]?.[0] ?? '0-0';
      }),
    };
    run.ready.then(
      () => void this.loop(run),
      () => {
        // Subscribers waiting on it are refused (503); the next one tries again with a fresh run.
        if (this.run === run) this.stop();
        else run.connection.disconnect();
      },
    );
    return run;
  }

  private async loop(run: Run): Promise<void> {
    const decoder = new QueueEventDecoder();
    const key = this.keys.events(this.type);
    let failures = 0;
    while (!run.stopped) {
      let entries: Array<[string, string[]]>;
      try {
        const reply = (await run.connection.xread('COUNT', BATCH, 'BLOCK', BLOCK_MS, 'STREAMS', key, run.position)) as
          | Array<[string, Array<[string, string[]]>]>
          | null;
        entries = reply?.[0]?.[1] ?? [];
        failures = 0;
      } catch (err) {
        if (run.stopped) return;
        if (failures++ === 0) this.options.logger?.warn('live events: cannot read the event stream; retrying', { type: this.type, error: (err as Error).message });
        await backoff(failures);
        continue;
      }
      if (entries.length === 0) continue;
      // Decoded once, in order (the decoder remembers the entry before); delivery may be retried.
      const decoded = entries.map(([id, flat]) => decoder.decode(streamEntry(id, flat)));
      const events = await this.withTaskFields(run, decoded);
      if (!events) return;
      for (const event of events) this.dispatch(event);
      run.position = entries[entries.length - 1]![0];
    }
  }

  private watched(taskId: string): boolean {
    return this.typeWide.size > 0 || this.byTask.has(taskId);
  }

  /** The watched events as the API sends them, reading what status changes need (retried until Redis answers). */
  private async withTaskFields(run: Run, decoded: Array<QueueEvent | null>): Promise<TaskEvent[] | null> {
    const wanted = decoded.filter((event): event is QueueEvent => event !== null && this.watched(event.taskId));
    for (let failures = 0; ; ) {
      if (run.stopped) return null;
      try {
        return await this.withFields(wanted);
      } catch (err) {
        if (failures++ === 0) this.options.logger?.warn('live events: cannot read tasks for their events; retrying', { type: this.type, error: (err as Error).message });
        await backoff(failures);
      }
    }
  }

  /** The events as the API sends them, with what status changes need from their tasks (one read). */
  private async withFields(events: QueueEvent[]): Promise<TaskEvent[]> {
    const ids = [...new Set(events.filter((event) => event.kind === 'status').map((event) => event.taskId))];
    const asOf = fieldsAsOfEachEvent(events, await this.readTaskFields(ids));
    return events.map((event, i) => this.toTaskEvent(event, asOf[i]!));
  }

  /** `ats`, `progress` and `failedReason` of each task, in one pipeline. */
  private async readTaskFields(ids: string[]): Promise<Map<string, TaskFields>> {
    const fields = new Map<string, TaskFields>();
    if (ids.length === 0) return fields;
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.job(this.type, id), 'ats', 'progress', 'failedReason');
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([err, value], i) => {
      if (err) throw err;
      const [ats, progress, failedReason] = value as Array<string | null>;
      fields.set(ids[i]!, { ats: ats ?? null, progress: progress ?? null, failedReason: failedReason ?? null });
    });
    return fields;
  }

  /** @param fields the task's fields as they were at this event */
  private toTaskEvent(event: QueueEvent, fields: TaskFields): TaskEvent {
    const at = streamIdTime(event.streamId).toISOString();
    if (event.kind === 'progress') {
      return { event: 'progress', id: event.streamId, data: { task_id: event.taskId, type: this.type, progress: event.progress, at } };
    }
    // A final failure's reason is the entry's own; otherwise the task shows its last attempt's error, as GET does.
    const reason = event.failedReason ?? fields.failedReason;
    return {
      event: 'status',
      id: event.streamId,
      data: {
        task_id: event.taskId,
        type: this.type,
        status: event.status,
        previous_status: event.previous,
        progress: taskProgress(event.status, fields.progress),
        error_code: event.status === 'completed' ? null : (decodeFailure(reason)?.code ?? null),
        retry_count: retryCount(fields.ats, event.status, reason),
        at,
      },
    };
  }

  private dispatch(event: TaskEvent): void {
    // A copy: a listener may end its stream (and leave) on this very event.
    const targets = [...this.typeWide, ...(this.byTask.get(event.data.task_id) ?? [])];
    for (const interest of targets) {
      try {
        interest.listener(event);
      } catch (err) {
        this.options.logger?.error('live events: a subscriber failed', { type: this.type, error: (err as Error).message });
      }
    }
  }
}

function streamEntry(id: string, flat: string[]): StreamEntry {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return { id, fields };
}

const backoff = (failures: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(failures, 5))));
