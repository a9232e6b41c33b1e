// Load generation: autocannon for closed-loop HTTP load, an open-loop pacer for offered rates, a
// bounded-concurrency loop, and a small JSON-over-HTTP helper.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';

export interface CannonResult {
  /** Answers with a 2xx status. */
  ok: number;
  seconds: number;
  /** 2xx answers per second over the whole run. */
  perSecond: number;
  latency: { mean: number; p50: number; p99: number };
}

/**
 * Runs autocannon against one URL, or several (its connections spread over them in turn: several API
 * processes); any non-2xx answer or connection error fails the run.
 */
export async function cannon(options: {
  url: string | string[];
  method?: 'GET' | 'POST';
  body?: string;
  connections: number;
  seconds: number;
}): Promise<CannonResult> {
  const result = await autocannon({
    // autocannon takes a list of URLs, which its typings do not say.
    url: options.url as string,
    method: options.method ?? 'GET',
    connections: options.connections,
    duration: options.seconds,
    ...(options.body !== undefined ? { body: options.body, headers: { 'content-type': 'application/json' } } : {}),
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(
      `${options.method ?? 'GET'} ${options.url}: ${result.non2xx} non-2xx answers and ${result.errors} errors ` +
        `(${result.timeouts} timeouts) in ${result['2xx']} requests`,
    );
  }
  const ok = result['2xx'];
  return {
    ok,
    seconds: result.duration,
    perSecond: ok / result.duration,
    latency: { mean: result.latency.mean, p50: result.latency.p50, p99: result.latency.p99 },
  };
}

/**
 * Offers `rate` calls per second for `seconds`, whether or not earlier calls have answered (open loop):
 * call i is issued at i / rate seconds, late only by the timer's granularity.
 */
export async function openLoop(rate: number, seconds: number, call: (i: number) => Promise<void>): Promise<{ sent: number; seconds: number }> {
  const total = Math.max(1, Math.round(rate * seconds));
  const pending: Array<Promise<void>> = [];
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    while (sent < due) pending.push(call(sent++));
    if (sent < total) await sleep(1);
  }
  const offeredFor = (performance.now() - started) / 1000;
  await Promise.all(pending);
  return { sent, seconds: offeredFor };
}

/** Runs `work(i)` for i in 0..count-1 with at most `inFlight` at a time. */
export async function bounded(count: number, inFlight: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
}

/** Runs `work()` in `inFlight` lanes until `seconds` have passed; returns calls completed and the time taken. */
export async function timed(seconds: number, inFlight: number, work: () => Promise<void>): Promise<{ calls: number; seconds: number }> {
  const started = performance.now();
  const end = started + seconds * 1000;
  let calls = 0;
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      await work();
      calls++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return { calls, seconds: (performance.now() - started) / 1000 };
}

export interface JsonAnswer<T> {
  status: number;
  body: T;
}

/** A keep-alive connection the server closed just as the client reused it (undici's "other side closed"). */
const reusedClosedSocket = (err: unknown): boolean => (err as { cause?: { code?: string } }).cause?.code === 'UND_ERR_SOCKET';

export async function http<T = any>(base: string, method: string, path: string, body?: unknown): Promise<JsonAnswer<T>> {
  const send = () =>
    fetch(base + path, {
      method,
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
  // A GET is safe to send again when the race of an idle connection's close hit it; nothing else is.
  const res = await send().catch((err: unknown) => (method === 'GET' && reusedClosedSocket(err) ? send() : Promise.reject(err)));
  return { status: res.status, body: (await res.json()) as T };
}

/** Like http(), but any status other than `expected` is an error naming the answer. */
export async function httpOk<T = any>(base: string, method: string, path: string, body?: unknown, expected = [200, 201]): Promise<T> {
  const answer = await http<T>(base, method, path, body);
  if (!expected.includes(answer.status)) {
    throw new Error(`${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 500)}`);
  }
  return answer.body;
}

/** Milliseconds since `start` (a performance.now() reading). */
export const since = (start: number): number => performance.now() - start;

export { performance };
