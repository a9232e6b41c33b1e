// Watching processes a task started: read the pid a script wrote to a file, and wait until a pid is gone.
// Used by the system_command tests to prove that no child or grandchild outlives a cancel, a timeout
// or a worker shutdown.
import { readFileSync } from 'node:fs';
import { waitFor } from './harness.js';

/** A script that writes its own pid and its background child's pid, then waits: a child with a grandchild. */
export const CHILD_WITH_GRANDCHILD = 'echo $$ > child.pid; sleep 300 & echo $! > grandchild.pid; wait';

/** Waits until `path` holds a whole pid line (the script may be writing it right now); returns the pid. */
export function pidFromFile(path: string, timeoutMs = 10_000): Promise<number> {
  return waitFor(
    () => {
      const text = readFileSync(path, 'utf8');
      return /^\d+\n$/.test(text) ? Number(text) : undefined;
    },
    { timeoutMs, what: `a pid in ${path}` },
  );
}

/** True when no process has this pid, or only a zombie waiting for a parent (or init) to reap it. */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true; // vanished between the two looks
  }
}

export function waitGone(pids: number[], timeoutMs = 5_000): Promise<true> {
  return waitFor(() => pids.every(processGone), { timeoutMs, what: `processes ${pids.join(', ')} to be gone` });
}

/** Last-resort clean-up after a failed test: nothing it started may linger. */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
