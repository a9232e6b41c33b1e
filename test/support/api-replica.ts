// An API replica as a real child process (apps/api/dist/main.js) on a port of its own, and the way the
// multi-replica tests compare two replicas' answers.
import { isDeepStrictEqual } from 'node:util';
import { API_MAIN, request, spawnEngineProcess, waitFor, type EngineProcess, type HttpResult } from './harness.js';

export interface Replica {
  name: string;
  url: string;
  process: EngineProcess;
  request<T = any>(method: string, path: string, body?: unknown): Promise<HttpResult<T>>;
}

export const alive = (p: EngineProcess): boolean => p.child.exitCode === null && p.child.signalCode === null;

/** Starts an API process with the config file (and environment); it is not answering yet (see untilAnswering). */
export function spawnApiReplica(name: string, configPath: string, port: number, env: Record<string, string> = {}): Replica {
  const child = spawnEngineProcess(API_MAIN, configPath, { ...env, PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  // Every call has a deadline, so a replica that hangs fails the test instead of stalling it.
  return { name, url, process: child, request: (method, path, body) => request(url, method, path, body, {}, 10_000) };
}

export async function untilAnswering(replica: Replica): Promise<void> {
  await waitFor(
    async () => {
      if (!alive(replica.process)) throw new Error(`API ${replica.name} exited: ${replica.process.output()}`);
      return (await replica.request('GET', '/health')).status === 200;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: `API ${replica.name} to answer /health` },
  );
}

/** Creates a task (type `custom` unless the body says) through the replica; throws unless 201. */
export async function createOn(replica: Replica, body: Record<string, unknown>): Promise<any> {
  const res = await replica.request('POST', '/tasks', { type: 'custom', ...body });
  if (res.status !== 201) throw new Error(`create on ${replica.name}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.task;
}

/**
 * One replica's answer and the other's, read A, B, A: state that moves by itself (a tick, a heartbeat,
 * a counter flush) may change between two reads, so only a pair whose A reads agree is compared.
 */
export async function readsNothingSeparated(
  a: Replica,
  b: Replica,
  path: string,
  strip: (body: any) => any = (body) => body,
  timeoutMs = 10_000,
): Promise<{ onA: any; onB: any }> {
  return waitFor(
    async () => {
      const first = strip((await a.request('GET', path)).body);
      const onB = strip((await b.request('GET', path)).body);
      const again = strip((await a.request('GET', path)).body);
      return isDeepStrictEqual(first, again) ? { onA: first, onB } : undefined;
    },
    { timeoutMs, intervalMs: 50, what: `two reads of ${path} on ${a.name} with nothing changing between them` },
  );
}
