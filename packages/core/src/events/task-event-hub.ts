// Live task events for one API process (CONTRACT section 7): any number of subscribers share one
// reader per task type (queue-event-reader.ts). Events come from Redis, so every API replica sees
// every task's events whichever worker process runs it.
import type { RedisClient } from '../redis/connection.js';
import type { TaskType } from '../config/schema.js';
import { unavailable } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TaskKeys } from '../redis/keys.js';
import { QueueEventReader, type Interest, type TaskEventListener } from './queue-event-reader.js';

export type { TaskEvent, TaskEventListener } from './queue-event-reader.js';

export interface EventFilter {
  types: readonly TaskType[];
  /** Only this task's events. */
  taskId?: string;
}

export interface Subscription {
  /** Per type, the stream id after which this subscription gets every event. */
  readonly positions: ReadonlyMap<TaskType, string>;
  /** Stops delivery; safe to call more than once. */
  close(): void;
}

export interface TaskEventHubOptions {
  /**
   * How long a type's reader keeps its connection after its last subscriber left, so that streams
   * opened one after another do not connect each time.
   * @defaultValue 5000
   */
  lingerMs?: number;
  logger?: Logger;
}

export class TaskEventHub {
  private readonly readers = new Map<TaskType, QueueEventReader>();
  private closed = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: TaskKeys,
    private readonly options: TaskEventHubOptions = {},
  ) {}

  /**
   * Delivers, in order, every event of the matching tasks written to Redis after this resolves (some
   * written a little before may come too). Rejects with a 503 when Redis cannot be reached.
   */
  async subscribe(filter: EventFilter, listener: TaskEventListener): Promise<Subscription> {
    if (this.closed) throw unavailable('the API is shutting down');
    const added: Array<{ type: TaskType; reader: QueueEventReader; interest: Interest; ready: Promise<string> }> = filter.types.map((type) => {
      const reader = this.readerOf(type);
      return { type, reader, ...reader.add(filter.taskId, listener) };
    });
    let open = true;
    const close = (): void => {
      if (!open) return;
      open = false;
      for (const { reader, interest } of added) reader.remove(interest);
    };
    let positions: Map<TaskType, string>;
    try {
      positions = new Map(await Promise.all(added.map(async ({ type, ready }) => [type, await ready] as const)));
    } catch {
      close();
      throw unavailable('Redis is unreachable; cannot follow task events');
    }
    return { positions, close };
  }

  /** `type`'s events after `after`, for a resuming client (see QueueEventReader.eventsAfter). */
  eventsAfter(type: TaskType, after: string, limit: number): ReturnType<QueueEventReader['eventsAfter']> {
    return this.readerOf(type).eventsAfter(after, limit);
  }

  /** Disconnects every reader; later subscriptions are refused. */
  close(): void {
    this.closed = true;
    for (const reader of this.readers.values()) reader.stop();
  }

  private readerOf(type: TaskType): QueueEventReader {
    let reader = this.readers.get(type);
    if (!reader) {
      reader = new QueueEventReader(this.redis, this.keys, type, { lingerMs: this.options.lingerMs ?? 5000, logger: this.options.logger });
      this.readers.set(type, reader);
    }
    return reader;
  }
}
