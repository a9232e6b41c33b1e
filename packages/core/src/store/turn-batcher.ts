// Coalesces work submitted during one event-loop turn into a single call. Under load, requests parsed in
// the same turn create their tasks in one MULTI (one round trip, one pipeline object) instead of one
// each; a lone request waits for nothing but the end of the current turn (setImmediate).

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class TurnBatcher<T, R> {
  private pending: Array<Pending<T, R>> = [];
  private scheduled = false;

  /**
   * @param run handles a whole turn's items; returns one outcome per item, in order: a result, or an
   *   Error for an item that failed on its own. Throwing fails every item of the turn.
   */
  constructor(private readonly run: (items: T[]) => Promise<Array<R | Error>>) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    try {
      const outcomes = await this.run(batch.map((entry) => entry.item));
      batch.forEach((entry, i) => {
        const outcome = outcomes[i];
        if (outcome instanceof Error) entry.reject(outcome);
        else entry.resolve(outcome as R);
      });
    } catch (err) {
      for (const entry of batch) entry.reject(err);
    }
  }
}
