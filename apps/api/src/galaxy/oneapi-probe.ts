// Watches whether the OneAPI node (node 01, the ai_inference upstream) answers, for /health. Optional
// dependency: its state is reported but never makes the engine `degraded`. Any HTTP answer below 500
// from `GET {oneapi.url}/health` counts as up (a 404 still proves the server is there).
import type { DependencyState } from '@taskengine/core';

export class OneApiProbe {
  private state: DependencyState;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly enabled: boolean,
    private readonly intervalSeconds: number,
  ) {
    this.state = enabled ? 'down' : 'disabled';
  }

  status(): DependencyState {
    return this.state;
  }

  start(): void {
    if (!this.enabled) return;
    const probe = async (): Promise<void> => {
      try {
        const res = await fetch(`${this.url.replace(/\/+$/, '')}/health`, { signal: AbortSignal.timeout(3000) });
        await res.body?.cancel();
        this.state = res.status < 500 ? 'up' : 'down';
      } catch {
        this.state = 'down';
      }
      this.timer = setTimeout(() => void probe(), this.intervalSeconds * 1000);
      this.timer.unref();
    };
    void probe();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
