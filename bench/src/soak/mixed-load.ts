// The soak run's load: `custom` tasks of five kinds in fixed proportions, created at a steady rate through
// the real API. The cancel kind is cancelled shortly after creation, so it is queued or running by then.
export type Kind = 'echo' | 'sleep' | 'fail' | 'timeout' | 'cancel';

/** One cycle of ten tasks: half echo, and one or two of each other kind. */
const CYCLE: Kind[] = ['echo', 'sleep', 'echo', 'fail', 'echo', 'timeout', 'echo', 'sleep', 'echo', 'cancel'];

const BODIES: Record<Kind, Record<string, unknown>> = {
  echo: { type: 'custom', payload: { handler: 'echo' } },
  sleep: { type: 'custom', payload: { handler: 'sleep', duration_ms: 200 }, config: { timeout_seconds: 10 } },
  // One retry, so retries and back-off are part of the mix.
  fail: { type: 'custom', payload: { handler: 'fail' }, config: { max_retries: 1, retry_delay_seconds: 0.2, backoff: 'fixed' } },
  timeout: { type: 'custom', payload: { handler: 'sleep', duration_ms: 3000 }, config: { timeout_seconds: 0.5, max_retries: 0 } },
  cancel: { type: 'custom', payload: { handler: 'sleep', duration_ms: 5000 }, config: { timeout_seconds: 30, max_retries: 0 } },
};

const CANCEL_AFTER_MS = 300;
const TICK_MS = 100;

export class MixedLoad {
  readonly created: Record<Kind, number> = { echo: 0, sleep: 0, fail: 0, timeout: 0, cancel: 0 };
  /** HTTP status of each cancel answer, counted (200 cancelled, 202 requested, 409 already final). */
  readonly cancelAnswers: Record<string, number> = {};
  errors = 0;
  firstError: string | null = null;
  private sent = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly apiUrl: string,
    private readonly rate: number,
  ) {}

  get total(): number {
    return Object.values(this.created).reduce((sum, n) => sum + n, 0);
  }

  start(): void {
    this.startedAt = Date.now();
    // Catch up on every tick to the number due by now, so a slow tick does not lower the rate.
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - this.startedAt) / 1000) * this.rate);
      for (; this.sent < due; this.sent++) this.track(this.submit(CYCLE[this.sent % CYCLE.length]!));
    }, TICK_MS);
  }

  /** Stops creating tasks and waits for the requests (and planned cancels) still under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private fail(message: string): void {
    this.errors++;
    this.firstError ??= message;
  }

  private async submit(kind: Kind): Promise<void> {
    try {
      const res = await fetch(`${this.apiUrl}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(BODIES[kind]),
      });
      const body = (await res.json()) as { task_id?: string };
      if (res.status !== 201 || !body.task_id) return this.fail(`POST /tasks answered ${res.status}`);
      this.created[kind]++;
      if (kind === 'cancel') {
        await new Promise((resolve) => setTimeout(resolve, CANCEL_AFTER_MS));
        const cancel = await fetch(`${this.apiUrl}/tasks/${body.task_id}/cancel`, { method: 'POST' });
        await cancel.arrayBuffer();
        this.cancelAnswers[cancel.status] = (this.cancelAnswers[cancel.status] ?? 0) + 1;
      }
    } catch (err) {
      this.fail((err as Error).message);
    }
  }
}
