// After a fault: read back, as a user would through the API, every task the engine holds, and compare
// it with what the clients were told. A task acknowledged (201) but missing or never completed is
// lost; a task stored twice, or run again after the fault, is a duplicate.
import { request, waitFor } from './harness.js';

export interface TaskAudit {
  /** Every task GET /tasks returns, paged to the end. */
  listed: any[];
  /** Acknowledged ids that are missing, or did not end `completed`. */
  lost: string[];
  /** Ids GET /tasks returned more than once. */
  repeated: string[];
  /** Attempts beyond the first among the listed tasks: work the fault made the engine do twice. */
  reruns: number;
  /** Listed tasks no client got a 201 for (their request was in flight when the fault hit). */
  unacknowledged: string[];
}

/** Pages through GET /tasks (newest first) until next_cursor is null. */
export async function listAllTasks(baseUrl: string): Promise<any[]> {
  const tasks: any[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `/tasks?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await request(baseUrl, 'GET', query);
    if (res.status !== 200) throw new Error(`GET ${query}: ${res.status} ${JSON.stringify(res.body)}`);
    tasks.push(...res.body.tasks);
    cursor = res.body.next_cursor;
  } while (cursor);
  return tasks;
}

/** Waits until no task is pending, queued or running (per GET /stats), and at least `minFinished` ended. */
export async function waitUntilSettled(baseUrl: string, minFinished: number, timeoutMs = 30_000): Promise<any> {
  return waitFor(
    async () => {
      const res = await request(baseUrl, 'GET', '/stats');
      if (res.status !== 200) return undefined;
      const s = res.body;
      const finished = s.completed + s.failed + s.cancelled + s.timeout;
      return s.pending + s.queued + s.running === 0 && finished >= minFinished ? s : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `every task to finish (at least ${minFinished})` },
  );
}

export async function auditTasks(baseUrl: string, acknowledged: string[]): Promise<TaskAudit> {
  const listed = await listAllTasks(baseUrl);
  const byId = new Map<string, any>();
  const repeated: string[] = [];
  for (const task of listed) {
    if (byId.has(task.id)) repeated.push(task.id);
    byId.set(task.id, task);
  }
  const acked = new Set(acknowledged);
  return {
    listed,
    lost: acknowledged.filter((id) => byId.get(id)?.status !== 'completed'),
    repeated,
    reruns: listed.reduce((sum, task) => sum + (task.retry_count ?? 0), 0),
    unacknowledged: [...byId.keys()].filter((id) => !acked.has(id)),
  };
}

/**
 * The line the README's reliability table is built from. `tasks`: creates acknowledged with 201;
 * lost: acknowledged but missing or not completed; duplicates: tasks stored twice plus runs beyond the
 * first (work the fault made the engine do again); recovery_ms: as the test defines it.
 */
export function reportReliability(fault: string, { tasks, audit, recoveryMs }: { tasks: number; audit: TaskAudit; recoveryMs: number | null }): void {
  const duplicates = audit.repeated.length + audit.reruns;
  console.log(`RELIABILITY: fault=${fault}, tasks=${tasks}, lost=${audit.lost.length}, duplicates=${duplicates}, recovery_ms=${recoveryMs ?? 'n/a'}`);
}
