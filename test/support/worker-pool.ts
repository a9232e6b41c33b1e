// Real worker processes for the fault tests: start them, kill them (remembering which pids were killed
// and when, so the test can tell which executions a kill cut short), and optionally supervise them
// like a process manager would: a worker that exits is replaced at once. `stopAll()` leaves nothing
// behind.
import { spawnWorkerProcess, waitFor, type Engine, type EngineProcess } from './harness.js';

export interface Kill {
  pid: number;
  signal: NodeJS.Signals;
  at: number;
}

export class WorkerPool {
  readonly all: EngineProcess[] = [];
  /** Signals this pool sent, in order. */
  readonly kills: Kill[] = [];
  /** Workers the supervisor started to replace ones that exited. */
  restarts = 0;
  private supervising = false;
  private stopped = false;

  constructor(
    private readonly configPath: string,
    private readonly env: Record<string, string>,
  ) {}

  spawn(): EngineProcess {
    if (this.stopped) throw new Error('worker pool already stopped');
    const worker = spawnWorkerProcess(this.configPath, this.env);
    this.all.push(worker);
    void worker.exited.then(() => {
      if (this.supervising && !this.stopped) {
        this.restarts++;
        this.spawn();
      }
    });
    return worker;
  }

  /** From now on, every worker that exits (killed by the test or by its task) is replaced. */
  supervise(): void {
    this.supervising = true;
  }

  alive(): EngineProcess[] {
    return this.all.filter(isAlive);
  }

  kill(worker: EngineProcess, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.kills.push({ pid: worker.pid, signal, at: Date.now() });
    worker.child.kill(signal);
    return worker.exited;
  }

  /** Pids this pool SIGKILLed. */
  sigkilledPids(): Set<number> {
    return new Set(this.kills.filter((k) => k.signal === 'SIGKILL').map((k) => k.pid));
  }

  /** Waits until GET /workers lists the process, i.e. it consumes its queues; returns its worker_id. */
  async registered(engine: Engine, worker: EngineProcess, timeoutMs = 20_000): Promise<string> {
    const record = await waitFor(
      async () => {
        if (!isAlive(worker)) throw new Error(`worker ${worker.pid} exited: ${worker.output()}`);
        const res = await engine.request('GET', '/workers');
        return (res.body.workers as Array<{ pid: number; worker_id: string }>).find((r) => r.pid === worker.pid);
      },
      { timeoutMs, intervalMs: 100, what: `worker pid ${worker.pid} in /workers` },
    );
    return record.worker_id;
  }

  /** SIGKILLs every process still running (no restarts) and waits until all have exited. */
  async stopAll(): Promise<void> {
    this.stopped = true;
    for (const worker of this.alive()) worker.child.kill('SIGKILL');
    await Promise.all(this.all.map((worker) => worker.exited));
  }
}

export const isAlive = (worker: EngineProcess): boolean => worker.child.exitCode === null && worker.child.signalCode === null;
