// Real worker processes for fault tests: started against an engine's Redis (or a proxy in front of it),
// known by the worker_id they registered under, and never left behind (stopAll() at the end of a test).
import { spawnWorkerProcess, waitFor, type Engine, type EngineProcess } from './harness.js';

export interface WorkerProcess extends EngineProcess {
  /** The id it registered in GET /workers (the tasks it runs carry it as worker_id). */
  workerId: string;
}

export const alive = (w: EngineProcess): boolean => w.child.exitCode === null && w.child.signalCode === null;

export class WorkerFleet {
  private readonly started: EngineProcess[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly configPath: string,
  ) {}

  /** Starts a worker process for `custom` tasks and waits until it is in GET /workers. */
  async start(env: Record<string, string> = {}): Promise<WorkerProcess> {
    const handle = spawnWorkerProcess(this.configPath, { WORKER_TASK_TYPES: 'custom', WORKER_CONCURRENCY: '4', ...env });
    this.started.push(handle);
    const record = await waitFor(
      async () => {
        if (!alive(handle)) throw new Error(`worker ${handle.pid} exited: ${handle.output()}`);
        return (await this.workers()).find((r) => r.pid === handle.pid);
      },
      { timeoutMs: 20_000, intervalMs: 100, what: `worker pid ${handle.pid} in /workers` },
    );
    return Object.assign(handle, { workerId: record.worker_id as string });
  }

  async workers(): Promise<any[]> {
    const res = await this.engine.request('GET', '/workers');
    if (res.status !== 200) throw new Error(`GET /workers answered ${res.status}`);
    return res.body.workers as any[];
  }

  /** SIGTERM, and waits for a clean exit. */
  async stop(w: EngineProcess, timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    w.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      w.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`worker ${w.pid} did not exit within ${timeoutMs} ms: ${w.output()}`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Kills whatever is still running and waits until it is gone. */
  async stopAll(): Promise<void> {
    for (const w of this.started) if (alive(w)) w.child.kill('SIGKILL');
    await Promise.all(this.started.map((w) => w.exited));
  }
}
