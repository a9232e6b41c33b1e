// The worker registry in Redis: each worker process writes its record at every heartbeat; GET /workers
// lists the records whose heartbeat is younger than 3 intervals. All keys share the `{workers}` tag.
import type { RedisClient } from '../redis/connection.js';
import type { WorkerRecord } from '../contracts/responses.js';
import type { TaskKeys } from '../redis/keys.js';

export class WorkerRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: TaskKeys,
    private readonly heartbeatSeconds: number,
  ) {}

  private get staleAfterMs(): number {
    return this.heartbeatSeconds * 3 * 1000;
  }

  async heartbeat(record: WorkerRecord, now = Date.now()): Promise<void> {
    const key = this.keys.worker(record.worker_id);
    await this.redis
      .multi()
      .set(key, JSON.stringify(record), 'PX', this.staleAfterMs)
      .zadd(this.keys.workerIndex(), String(now), record.worker_id)
      .exec();
  }

  async remove(workerId: string): Promise<void> {
    await this.redis.multi().del(this.keys.worker(workerId)).zrem(this.keys.workerIndex(), workerId).exec();
  }

  async list(now = Date.now()): Promise<WorkerRecord[]> {
    const index = this.keys.workerIndex();
    const liveSince = now - this.staleAfterMs;
    // A pipeline, not a MULTI: Redis refuses every command queued in a MULTI while it is out of memory,
    // and reading the workers must keep working then (/health, /stats). The read filters by score
    // itself, so the clean-up beside it may fail or race without showing a stale worker.
    const [, [readError, ids]] = (await this.redis
      .pipeline()
      .zremrangebyscore(index, '-inf', `(${liveSince}`)
      .zrangebyscore(index, liveSince, '+inf')
      .exec()) as [[Error | null, number], [Error | null, string[]]];
    if (readError) throw readError;
    if (ids.length === 0) return [];
    const records = await this.redis.mget(...ids.map((id) => this.keys.worker(id)));
    return records.filter((text): text is string => text !== null).map((text) => JSON.parse(text) as WorkerRecord);
  }
}
