// `ctx.dependencies` for an executor: each dependency's result by task id, read when the attempt starts
// (one command per dependency, sent together; tasks without dependencies make none).
import type { RedisClient } from '../redis/connection.js';
import type { TaskKeys } from '../redis/keys.js';
import type { TaskRef } from './workflow-model.js';

export async function dependencyResults(redis: RedisClient, keys: TaskKeys, dependencies: readonly TaskRef[]): Promise<Record<string, unknown>> {
  if (dependencies.length === 0) return {};
  const stored = await Promise.all(dependencies.map(({ task_id, type }) => redis.hget(keys.job(type, task_id), 'returnvalue')));
  const results: Record<string, unknown> = {};
  dependencies.forEach(({ task_id }, i) => {
    // A dependency removed by retention since (its result is gone) reads null, as a result never stored.
    results[task_id] = parseResult(stored[i] ?? null);
  });
  return results;
}

function parseResult(text: string | null): unknown {
  if (text === null || text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
