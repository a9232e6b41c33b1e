// Why an attempt's AbortSignal fired. The runner turns each into its outcome: a cancelled task ends
// `cancelled`, a timed-out attempt is retried or ends `timeout`, a shutdown hands the task back.
export type AbortKind = 'cancel' | 'timeout' | 'shutdown';

export class AttemptAborted extends Error {
  override readonly name = 'AbortError';
  constructor(
    readonly kind: AbortKind,
    message: string,
  ) {
    super(message);
  }
}

/** Resolves or rejects with `work`, or rejects as soon as `signal` aborts: a handler that ignores its
 *  signal is abandoned there, and whatever it returns later is discarded. */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
