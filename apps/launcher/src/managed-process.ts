// One child process the launcher owns: spawned in its own session (so a terminal's Ctrl-C reaches the
// launcher alone, which then stops the children in order: api and worker first, Redis last, because the
// worker needs Redis to finish its tasks), and, on Linux, tied to the launcher's life with a parent-death
// signal (setpriv --pdeathsig), so a launcher killed with SIGKILL still leaves no orphans behind.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (e.g. ENOENT). */
  error?: NodeJS.ErrnoException;
}

/** The absolute path of an executable found on PATH, or null. */
export function findExecutable(name: string, path: string = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

// Looked up once: it does not change while the launcher runs.
const setpriv = process.platform === 'linux' ? findExecutable('setpriv') : null;

export function describeExit(status: ExitStatus): string {
  if (status.error) return `could not start (${status.error.code ?? status.error.message})`;
  if (status.signal) return `was killed by ${status.signal}`;
  return `exited with code ${status.code}`;
}

export class ManagedProcess {
  readonly exited: Promise<ExitStatus>;
  private status: ExitStatus | null = null;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise<ExitStatus>((resolve) => {
      const settle = (status: ExitStatus): void => {
        if (this.status) return;
        this.status = status;
        resolve(status);
      };
      child.once('exit', (code, signal) => settle({ code, signal }));
      // 'error' without a pid means the spawn itself failed and no 'exit' will follow; an 'error' from a
      // failed kill() of a running process is not an exit.
      child.on('error', (error: NodeJS.ErrnoException) => {
        if (child.pid === undefined) settle({ code: null, signal: null, error });
      });
    });
  }

  /** Spawns `command args` detached and, where setpriv exists, with SIGTERM as its parent-death signal. */
  static spawn(name: string, command: string, args: string[], options: SpawnOptions = {}): ManagedProcess {
    const [file, argv] = setpriv ? [setpriv, ['--pdeathsig', 'SIGTERM', '--', command, ...args]] : [command, args];
    const child = spawn(file, argv, { ...options, detached: process.platform !== 'win32' });
    return new ManagedProcess(name, child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.status === null && this.child.pid !== undefined;
  }

  /** Sends a signal if the process still runs; never throws. */
  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Resolves once it has exited. */
  async stop(graceMs: number): Promise<{ status: ExitStatus; forced: boolean }> {
    if (!this.running) return { status: await this.exited, forced: false };
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), graceMs);
    });
    const status = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (status) return { status, forced: false };
    this.signal('SIGKILL');
    return { status: await this.exited, forced: true };
  }
}
