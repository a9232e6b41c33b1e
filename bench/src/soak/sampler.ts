// What the soak run watches: resident memory of each engine process (Linux /proc/<pid>/status), Redis's
// used_memory and key count, the queue's event stream (BullMQ caps it near 10 000 entries), and what
// /stats says about retained tasks and lifetime outcomes.
import { readFileSync } from 'node:fs';
import type { RedisHandle } from '../env.js';

export interface Sample {
  /** Seconds since the load started. */
  t_s: number;
  phase: 'load' | 'drain';
  rss_mb: Record<string, number | null>;
  redis_used_mb: number;
  dbsize: number;
  events_len: number;
  retained_tasks: number;
  lifetime: { created: number; finished: number };
}

/** Resident set size of a process in MB, or null when it cannot be read (not Linux, or gone). */
export function rssMb(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? round(Number(kb) / 1024) : null;
  } catch {
    return null;
  }
}

export const round = (n: number, places = 1): number => Math.round(n * 10 ** places) / 10 ** places;

export interface SampleSources {
  redis: RedisHandle;
  apiUrl: string;
  pids: Record<string, number | undefined>;
  eventsKey: string;
  startedAt: number;
}

export async function takeSample(src: SampleSources, phase: Sample['phase']): Promise<Sample> {
  const [info, dbsize, eventsLen, statsRes] = await Promise.all([
    src.redis.admin.info('memory'),
    src.redis.admin.dbsize(),
    src.redis.admin.xlen(src.eventsKey),
    fetch(`${src.apiUrl}/stats`),
  ]);
  const stats = (await statsRes.json()) as { total_tasks: number; lifetime: Record<string, number> };
  const life = stats.lifetime;
  return {
    t_s: round((Date.now() - src.startedAt) / 1000),
    phase,
    rss_mb: Object.fromEntries(Object.entries(src.pids).map(([name, pid]) => [name, rssMb(pid)])),
    redis_used_mb: round(Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 1024 / 1024, 2),
    dbsize,
    events_len: eventsLen,
    retained_tasks: stats.total_tasks,
    lifetime: { created: life.created ?? 0, finished: (life.completed ?? 0) + (life.failed ?? 0) + (life.cancelled ?? 0) + (life.timeout ?? 0) },
  };
}
