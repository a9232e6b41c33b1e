// The API's link to the UFO Galaxy StateMachine (node 00), CONTRACT section 6: register node 02 at
// start, heartbeat every health_check.interval, unregister at shutdown. Best effort: nothing here
// ever blocks or fails a request or a task; failures are retried with back-off and reported by
// /health (`down`, status `degraded`). If StateMachine forgets the node (a restart; the heartbeat
// answers 404), the link registers again.
import type { DependencyState, Logger } from '@taskengine/core';

export interface NodeDescription {
  node_id: string;
  name: string;
  port: number;
  version: string;
  task_types: string[];
}

export interface StateMachineLinkOptions {
  url: string;
  enabled: boolean;
  intervalSeconds: number;
  node: NodeDescription;
  logger: Logger;
  /** Per-call limit; a hung StateMachine must not hold a timer chain forever. */
  requestTimeoutMs?: number;
  /** First retry delay after a failed register; doubles up to the heartbeat interval. */
  retryBaseMs?: number;
}

export class StateMachineLink {
  private state: DependencyState;
  private registered = false;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly base: string;

  constructor(private readonly options: StateMachineLinkOptions) {
    this.state = options.enabled ? 'down' : 'disabled';
    this.base = options.url.replace(/\/+$/, '');
  }

  status(): DependencyState {
    return this.state;
  }

  start(): void {
    if (!this.options.enabled) return;
    this.schedule(0);
  }

  /** Stops the heartbeats and unregisters (bounded by the request timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight; // a register still on its way must be undone too
    if (!this.options.enabled || !this.registered) return;
    const { node_id } = this.options.node;
    await this.post(`/nodes/unregister/${node_id}`, { node_id }).catch((err: Error) => {
      this.options.logger.warn('StateMachine unregister failed', { error: err.message });
    });
    this.registered = false;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.beat();
    }, delayMs);
    this.timer.unref();
  }

  /** One register or heartbeat, then the next one scheduled. */
  private async beat(): Promise<void> {
    const intervalMs = this.options.intervalSeconds * 1000;
    try {
      if (this.registered) {
        const answer = await this.post(`/nodes/heartbeat/${this.options.node.node_id}`, this.announcement(), [404]);
        if (answer === 404) {
          this.registered = false;
          this.options.logger.info('StateMachine no longer knows this node; registering again');
          return this.schedule(0);
        }
      } else {
        await this.post('/nodes/register', this.announcement());
        this.registered = true;
        this.options.logger.info('registered with StateMachine', { url: this.base });
      }
      if (this.state !== 'up' && this.failures > 0) this.options.logger.info('StateMachine reachable again');
      this.state = 'up';
      this.failures = 0;
      this.schedule(intervalMs);
    } catch (err) {
      this.failures++;
      if (this.state !== 'down' || this.failures === 1) {
        this.options.logger.warn('StateMachine unreachable', { error: (err as Error).message, registered: this.registered });
      }
      this.state = 'down';
      const retryMs = Math.min(intervalMs, (this.options.retryBaseMs ?? 1000) * 2 ** (this.failures - 1));
      this.schedule(this.registered ? intervalMs : retryMs);
    }
  }

  private announcement(): Record<string, unknown> {
    const { node_id, name, port, version, task_types } = this.options.node;
    return { node_id, state: 'running', last_heartbeat: new Date().toISOString(), metadata: { name, port, version, task_types } };
  }

  /** POSTs JSON; resolves with the status when it is 2xx or one of `accepted`, rejects otherwise. */
  private async post(path: string, body: unknown, accepted: number[] = []): Promise<number> {
    const res = await fetch(this.base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 5000),
    });
    await res.body?.cancel();
    if (res.ok || accepted.includes(res.status)) return res.status;
    throw new Error(`POST ${path} answered ${res.status}`);
  }
}
