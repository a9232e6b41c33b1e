// BullMQ tells a worker that it lost a task's lock only through errors: its scripts' codes -2 (missing
// lock), -3 (not active) and -6 (lock owned by another worker) become Error messages, and a failed lock
// renewal is another. Recognised here so the worker can say what happened (another worker took the
// task over, this attempt's outcome is discarded) instead of reporting a connection problem.
/** The log line of a lost lock, the same wherever the worker notices it. */
export const LOCK_LOST_LOG = "task lock lost; this attempt's outcome is discarded (another worker owns the task)";

const LOCK_LOST: RegExp[] = [
  /^Missing lock for job (\S+?)\.\s/,
  /^Lock mismatch for job (\S+?)\.\s/,
  /^Job (\S+?) is not in the active state\.\s/,
  /^could not renew lock for job (\S+)$/,
];

/** The task id when `err` says this worker no longer holds that task's lock, else undefined. */
export function lockLostTaskId(err: Error): string | undefined {
  for (const pattern of LOCK_LOST) {
    const match = pattern.exec(err.message);
    if (match) return match[1];
  }
  return undefined;
}
