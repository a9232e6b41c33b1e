// Warns when the Redis the engine runs on may evict keys. Queues, job hashes, locks, the engine's
// indexes and counters are all ordinary keys: under an eviction policy (allkeys-lru, volatile-ttl, …)
// a full Redis silently deletes some of them — a queued task vanishes, a running task loses its lock
// and runs twice, counters drift — where `noeviction` refuses new writes instead, which the API turns
// into a clear 503 and loses nothing. Checked at every (re)connect: a failover may bring a Redis
// configured differently.
import { dataNodes, type RedisClient } from './connection.js';
import type { Logger } from '../logger.js';

export const SAFE_EVICTION_POLICY = 'noeviction';

export interface MemorySettings {
  policy: string;
  /** 0: no limit. */
  maxmemoryBytes: number | null;
}

/**
 * Reads maxmemory-policy. INFO comes first because managed Redis services often disable or rename
 * CONFIG while INFO still carries `maxmemory_policy`; CONFIG GET covers servers whose INFO lacks it.
 * Null when neither answers.
 */
export async function readMemorySettings(redis: RedisClient): Promise<MemorySettings | null> {
  try {
    const info = await redis.info('memory');
    const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
    const max = /^maxmemory:(\d+)/m.exec(info)?.[1];
    if (policy) return { policy, maxmemoryBytes: max === undefined ? null : Number(max) };
  } catch {
    // INFO refused (ACL): try CONFIG.
  }
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    return policy ? { policy, maxmemoryBytes: null } : null;
  } catch {
    return null; // CONFIG disabled or renamed, as on many managed services
  }
}

/** Logs a warning whenever the connection becomes ready on a Redis whose policy is not noeviction. */
export function warnOnEvictionPolicy(redis: RedisClient, logger: Logger): void {
  let reported: string | undefined;
  const check = async (): Promise<void> => {
    // On Redis Cluster every master holds some types' queues: the first unsafe one is reported.
    const all = await Promise.all(dataNodes(redis).map((node) => readMemorySettings(node)));
    const settings = all.find((s) => s?.policy !== SAFE_EVICTION_POLICY) ?? all[0] ?? null;
    const policy = settings?.policy ?? 'unknown';
    if (policy === reported) return; // said once per change, not at every reconnect
    reported = policy;
    if (policy === SAFE_EVICTION_POLICY) return;
    if (!settings) {
      logger.info('cannot read the Redis maxmemory-policy (INFO and CONFIG refused); make sure it is noeviction');
      return;
    }
    logger.warn(
      `Redis maxmemory-policy is ${policy}, not ${SAFE_EVICTION_POLICY}: when Redis fills up it will silently delete ` +
        `keys (queued tasks, locks of running tasks, indexes, counters) instead of refusing new tasks; ` +
        `set maxmemory-policy ${SAFE_EVICTION_POLICY}`,
      { maxmemory_policy: policy, maxmemory_bytes: settings.maxmemoryBytes },
    );
  };
  redis.on('ready', () => void check().catch(() => {}));
  if (redis.status === 'ready') void check().catch(() => {});
}
