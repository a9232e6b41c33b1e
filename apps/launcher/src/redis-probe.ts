// Asks one question: does a Redis answer at this URL right now? One connection attempt with a short
// timeout, no retries, no offline queue, then the client is closed, so a missing Redis costs about a
// second and never a storm of reconnects or log lines.
import { Redis } from 'ioredis';

export type ProbeResult =
  | { state: 'ready' }
  /** It answers but is still loading its data set (AOF or RDB) into memory. */
  | { state: 'loading' }
  /** It answers with an error, e.g. NOAUTH or WRONGPASS: a Redis is there but will not serve us. */
  | { state: 'refused'; reason: string }
  /** Nothing answers (refused connection, timeout, DNS failure...). */
  | { state: 'silent'; reason: string };

export async function probeRedis(url: string, timeoutMs = 1000): Promise<ProbeResult> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
  });
  // Without a listener ioredis would log each failure; the first one names the cause ("connect
  // ECONNREFUSED ...") better than the "Connection is closed." the promises reject with.
  let cause: Error | undefined;
  client.on('error', (err: Error) => {
    cause ??= err;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    // connectTimeout covers the TCP connect only; this also bounds a handshake nobody answers.
    timer = setTimeout(() => reject(new Error(`no answer within ${2 * timeoutMs} ms`)), 2 * timeoutMs);
  });
  try {
    const reply = await Promise.race([
      (async () => {
        await client.connect();
        return client.ping();
      })(),
      deadline,
    ]);
    return reply === 'PONG' ? { state: 'ready' } : { state: 'refused', reason: `PING answered ${String(reply)}` };
  } catch (err) {
    // An error reply to the handshake (NOAUTH, WRONGPASS) reaches only the 'error' event; the promise
    // then rejects with "Connection is closed.".
    const failure = [err as Error, cause].find((e) => e?.name === 'ReplyError') ?? cause ?? (err as Error);
    if (failure.name === 'ReplyError') {
      return /^LOADING\b/.test(failure.message) ? { state: 'loading' } : { state: 'refused', reason: failure.message };
    }
    return { state: 'silent', reason: failure.message || String(err) };
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
