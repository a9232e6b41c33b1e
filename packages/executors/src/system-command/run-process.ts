// Starts one program (never a shell), feeds its stdin, captures its output up to a cap, and makes sure
// that no process it started outlives the attempt.
//
// Process group: the program is spawned `detached`, so it leads a process group (and session) of its
// own, and everything it forks stays in that group unless it deliberately leaves (setsid). Stopping
// means signalling the whole group: SIGTERM first so programs can clean up, SIGKILL after
// `killGraceMs` (0: SIGKILL at once). The group is stopped when
// - the AbortSignal fires (cancel, timeout, worker shutdown);
// - the program exits while other members of its group still run: background leftovers would hold the
//   output pipes open (the result would never be complete) and would escape the task's timeout and cancel;
// - the worker process exits (any path that emits 'exit': process.exit, a crash): every group still
//   tracked gets SIGKILL synchronously. A worker killed with SIGKILL cannot do this; its children are then
//   orphaned (Node offers no parent-death signal).
//
// Output: each stream keeps its first `maxOutputBytes` bytes; the rest is still read and discarded, so a
// talkative program never blocks on a full pipe and is not killed for talking. Text is decoded as UTF-8;
// invalid bytes become U+FFFD, and a cut in the middle of a character at the cap is moved back to the
// character's start.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { TaskError } from '@taskengine/core';

export interface RunOptions {
  /** Absolute path of the program. */
  program: string;
  /** argv[0] as the client named it (e.g. `echo`), as a shell would pass it. */
  argv0: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  /** Written then closed; absent: the program reads end-of-file at once (/dev/null). */
  stdin?: string;
  maxOutputBytes: number;
  killGraceMs: number;
  signal: AbortSignal;
}

export interface ProcessOutcome {
  exitCode: number | null;
  /** The signal that ended the program, when one did. */
  exitSignal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
  /** The AbortSignal fired and the group was stopped: the outcome is not the program's own. */
  aborted: boolean;
  /** The program exited but left other processes in its group; they were stopped. */
  leftovers: boolean;
}

/** Process groups started here and not yet known to be gone; SIGKILLed if this process exits. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function track(pgid: number): void {
  liveGroups.add(pgid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const group of liveGroups) signalGroup(group, 'SIGKILL');
  });
}

/** Sends `signal` (0: just probe) to every process of the group; false when the group is gone. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    // ESRCH: no process left in the group. EPERM: none we may signal (a setuid program); nothing to do either.
    return false;
  }
}

/** Keeps the first `cap` bytes of a stream and counts the rest. */
class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  truncated = false;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    const room = this.cap - this.kept;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.chunks.push(part);
    this.kept += part.length;
  }

  text(): string {
    const bytes = Buffer.concat(this.chunks);
    return bytes.toString('utf8', 0, this.truncated ? completeUtf8Length(bytes) : bytes.length);
  }
}

/** Length of `bytes` without a multi-byte UTF-8 character cut short at its end. */
export function completeUtf8Length(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(4, bytes.length); back += 1) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for the lead byte
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

function spawnFailure(err: NodeJS.ErrnoException, program: string): TaskError {
  const why = `could not start "${program}"`;
  switch (err.code) {
    case 'ENOENT':
      return new TaskError('command_not_found', `${why}: no such file`, { retryable: false });
    case 'EACCES':
      return new TaskError('command_not_executable', `${why}: permission denied`, { retryable: false });
    case 'EAGAIN':
    case 'ENOMEM':
    case 'EMFILE':
    case 'ENFILE':
      // The machine is short of processes, memory or file descriptors: worth another attempt later.
      return new TaskError('spawn_failed', `${why}: ${err.message}`, { retryable: true });
    default:
      return new TaskError('spawn_failed', `${why}: ${err.message}`, { retryable: false });
  }
}

export function runProcess(options: RunOptions): Promise<ProcessOutcome> {
  const { program, signal, killGraceMs } = options;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(program, options.args, {
        argv0: options.argv0,
        cwd: options.cwd,
        env: options.env,
        detached: true,
        shell: false,
        stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
    } catch (err) {
      reject(spawnFailure(err as NodeJS.ErrnoException, program));
      return;
    }
    const pid = child.pid;
    const started = performance.now();
    const stdout = new CappedOutput(options.maxOutputBytes);
    const stderr = new CappedOutput(options.maxOutputBytes);
    child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    if (child.stdin) {
      // EPIPE when the program exits without reading all of its input: its exit status tells the story.
      child.stdin.on('error', () => {});
      child.stdin.end(options.stdin, 'utf8');
    }

    let exit: { code: number | null; signal: NodeJS.Signals | null; durationMs: number } | undefined;
    let stopping = false;
    let aborted = false;
    let leftovers = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let closeGuard: NodeJS.Timeout | undefined;

    const stopGroup = (): void => {
      if (stopping || pid === undefined) return;
      stopping = true;
      if (!signalGroup(pid, killGraceMs > 0 ? 'SIGTERM' : 'SIGKILL') || killGraceMs === 0) {
        liveGroups.delete(pid);
        return;
      }
      // Unref'd: the exit hook covers a worker that exits before the grace is over.
      killTimer = setTimeout(() => {
        signalGroup(pid, 'SIGKILL');
        liveGroups.delete(pid);
      }, killGraceMs);
      killTimer.unref();
    };
    const onAbort = (): void => {
      aborted = true;
      stopGroup();
    };
    const finish = (): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      clearTimeout(closeGuard);
      resolve({
        exitCode: exit?.code ?? null,
        exitSignal: exit?.signal ?? null,
        stdout: stdout.text(),
        stderr: stderr.text(),
        truncated: stdout.truncated || stderr.truncated,
        durationMs: Math.round(exit?.durationMs ?? performance.now() - started),
        aborted,
        leftovers,
      });
    };

    child.once('error', (err: NodeJS.ErrnoException) => {
      // After a successful start 'error' only reports a failed kill(), which we never ask the child for.
      if (pid !== undefined || settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      reject(spawnFailure(err, program));
    });
    if (pid === undefined) return; // the 'error' event follows
    track(pid);
    signal.addEventListener('abort', onAbort, { once: true });

    child.once('exit', (code, exitSignal) => {
      exit = { code, signal: exitSignal, durationMs: performance.now() - started };
      if (!stopping) {
        if (signalGroup(pid, 0)) {
          leftovers = true;
          stopGroup();
        } else {
          liveGroups.delete(pid);
        }
      }
      // A process that left the group (setsid) may still hold the pipes: stop waiting for it eventually.
      closeGuard = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, killGraceMs + 1000);
      closeGuard.unref();
    });
    child.once('close', finish);
  });
}
