// Tells this process's running attempts that a client cancelled them. Two paths, because a pub/sub
// message can be lost while the subscriber reconnects: the cancel channel (fast), and a poll of each
// type's cancel-requests set for the ids running here (one SMISMEMBER per type per second).
import { duplicateRedis, type Logger, type RedisClient, type TaskKeys, type TaskType } from '@taskengine/core';
import { AttemptAborted } from './abort-reason.js';
import type { TaskRunner } from './task-runner.js';

const CANCELLED = (): AttemptAborted => new AttemptAborted('cancel', 'Cancelled by client');

export class CancelWatcher {
  private subscriber: RedisClient | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: TaskKeys,
    private readonly runner: TaskRunner,
    private readonly logger: Logger,
    private readonly pollEveryMs = 1000,
  ) {}

  async start(): Promise<void> {
    this.subscriber = duplicateRedis(this.redis);
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (_channel: string, message: string) => {
      try {
        const { id } = JSON.parse(message) as { id: string };
        if (this.runner.abort(id, CANCELLED())) this.logger.debug('cancel received', { task_id: id });
      } catch {
        // A malformed message is ignored; the poll still sees the request.
      }
    });
    await this.subscriber.subscribe(this.keys.cancelChannel());
    this.timer = setInterval(() => void this.poll().catch(() => {}), this.pollEveryMs);
    this.timer.unref();
  }

  async poll(): Promise<void> {
    const byType = new Map<TaskType, string[]>();
    for (const attempt of this.runner.active.values()) {
      byType.set(attempt.type, [...(byType.get(attempt.type) ?? []), attempt.id]);
    }
    for (const [type, ids] of byType) {
      const flags = await this.redis.smismember(this.keys.cancelRequests(type), ...ids);
      ids.forEach((id, i) => {
        if (flags[i]) this.runner.abort(id, CANCELLED());
      });
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.subscriber) await this.subscriber.quit().catch(() => {});
    this.subscriber = undefined;
  }
}
