// Group commit for task creation. A create goes to Redis at once when the connection is quiet; while
// earlier writes are still awaiting Redis, the creates that arrive meanwhile wait and then go together
// in one call. Under load that turns N requests into one MULTI (one round trip, one ioredis pipeline
// object) without delaying a request when there is no load.

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class GroupCommitter<T, R> {
  private pending: Array<Pending<T, R>> = [];
  private inFlight = 0;
  private scheduled = false;

  /**
   * @param run handles a group of items; returns one outcome per item, in order: a result, or an
   *   Error for an item that failed on its own. Throwing fails every item of the group.
   * @param maxInFlight groups sent to Redis and not answered yet before new items wait to be grouped.
   */
  constructor(
    private readonly run: (items: T[]) => Promise<Array<R | Error>>,
    private readonly maxInFlight = 2,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Sends what is pending once the current synchronous work is done, if a slot is free. */
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.pending.length === 0) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight >= this.maxInFlight || this.pending.length === 0) return;
    const group = this.pending;
    this.pending = [];
    this.inFlight++;
    try {
      const outcomes = await this.run(group.map((entry) => entry.item));
      group.forEach((entry, i) => {
        const outcome = outcomes[i];
        if (outcome instanceof Error) entry.reject(outcome);
        else entry.resolve(outcome as R);
      });
    } catch (err) {
      for (const entry of group) entry.reject(err);
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }
}
