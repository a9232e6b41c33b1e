// Why an attempt's AbortSignal fired. The runner turns each into its outcome: a cancelled task ends
// `cancelled`, a timed-out attempt is retried or ends `timeout`, a shutdown hands the task back, and a
// lost lock (another worker took the task over) leaves the task to that worker.
export type AbortKind = 'cancel' | 'timeout' | 'shutdown' | 'lock_lost';

export class AttemptAborted extends Error {
  override readonly name = 'AbortError';
  constructor(
    readonly kind: AbortKind,
    message: string,
  ) {
    super(message);
  }
}
