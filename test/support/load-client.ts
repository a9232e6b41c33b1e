// A client load for fault tests: a few loops that keep creating tasks (and reading them back) over real
// HTTP while a fault happens, recording every request's answer and duration. The record is what the
// tests judge: which creates were acknowledged (201), what the API answered during the fault, and how
// long each answer took (an outage must never make a request hang).
import { request, waitFor, type HttpResult } from './harness.js';

export type RequestKind = 'create' | 'batch' | 'read';

export interface RequestRecord {
  kind: RequestKind;
  /** HTTP status, or 0 when no answer came (connection error, or the client's own deadline). */
  status: number;
  body: any;
  startedAt: number;
  ms: number;
  /** Task ids the request asked to create (client-chosen ids only). */
  requestedIds: string[];
}

export interface LoadOptions {
  /** Concurrent loops, each waiting for its answer before the next request. */
  loops?: number;
  /** The body of the n-th create; a batch when it returns `{tasks: [...]}`. */
  createBody: (n: number) => Record<string, unknown>;
  /** After each create, read one acknowledged task back (GET /tasks/{id}). */
  reads?: boolean;
  /**
   * Shortest time between two requests of one loop. Keeps the load modest on a shared machine,
   * and keeps a loop that gets instant 503s from spinning.
   */
  paceMs?: number;
  /** The client gives up on a request after this long (recorded as status 0): a hang is a finding, not a stuck test. */
  requestTimeoutMs?: number;
}

export class LoadClient {
  readonly records: RequestRecord[] = [];
  /** Ids of the tasks the API acknowledged with 201, in order. */
  readonly acknowledged: string[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private counter = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly options: LoadOptions,
  ) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.options.loops ?? 3 }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Records since `since` (ms timestamp), optionally up to `until`, of the given kinds. */
  between(since: number, until = Infinity, kinds?: RequestKind[]): RequestRecord[] {
    return this.records.filter((r) => r.startedAt >= since && r.startedAt < until && (!kinds || kinds.includes(r.kind)));
  }

  /** Resolves once `count` more creates have been acknowledged (the load goes on meanwhile). */
  async acknowledgedMore(count: number, timeoutMs = 15_000): Promise<void> {
    const target = this.acknowledged.length + count;
    await waitFor(() => this.acknowledged.length >= target, { timeoutMs, intervalMs: 20, what: `${count} more acknowledged creates` });
  }

  private async loop(): Promise<void> {
    const pace = this.options.paceMs ?? 20;
    while (this.running) {
      const began = Date.now();
      await this.create();
      if (this.options.reads && this.acknowledged.length > 0) {
        const id = this.acknowledged[Math.floor(Math.random() * this.acknowledged.length)]!;
        await this.send('read', 'GET', `/tasks/${encodeURIComponent(id)}`, undefined, []);
      }
      const rest = pace - (Date.now() - began);
      if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
    }
  }

  private async create(): Promise<void> {
    const body = this.options.createBody(this.counter++);
    const batch = Array.isArray(body.tasks);
    const requestedIds = (batch ? (body.tasks as Array<{ id?: string }>) : [body as { id?: string }])
      .map((task) => task.id)
      .filter((id): id is string => typeof id === 'string');
    const record = await this.send(batch ? 'batch' : 'create', 'POST', batch ? '/tasks/batch' : '/tasks', body, requestedIds);
    if (record.status === 201) this.acknowledged.push(...(batch ? (record.body.task_ids as string[]) : [record.body.task_id as string]));
  }

  private async send(kind: RequestKind, method: string, path: string, body: unknown, requestedIds: string[]): Promise<RequestRecord> {
    const startedAt = Date.now();
    let res: HttpResult | undefined;
    try {
      res = await request(this.baseUrl, method, path, body, {}, this.options.requestTimeoutMs ?? 10_000);
    } catch (err) {
      res = { status: 0, body: { client_error: (err as Error).message }, headers: new Headers() };
    }
    const record: RequestRecord = { kind, status: res.status, body: res.body, startedAt, ms: Date.now() - startedAt, requestedIds };
    this.records.push(record);
    return record;
  }
}

/** Counts records by status, e.g. `{201: 120, 503: 40}`, for failure messages and reports. */
export function statusHistogram(records: RequestRecord[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const r of records) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}
