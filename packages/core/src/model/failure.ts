// How a task's error travels through BullMQ. BullMQ keeps one string per failed attempt (failedReason);
// we store "[error_code] human sentence" there, so the code survives in the job hash, shows in
// bull-board, and costs no extra field or round trip.
const CODED = /^\[([a-z][a-z0-9_]*)\] ([\s\S]*)$/;

/** BullMQ's own failure reasons, mapped to our codes. */
const BULLMQ_REASONS: Array<[RegExp, string]> = [
  [/stalled more than allowable limit/i, 'stalled'],
  [/started more than allowable limit/i, 'stalled'],
];

/**
 * True for a failure BullMQ decided itself at a limit (stall count, started attempts). BullMQ 6 applies
 * these limits when a worker next takes the job, and fails it there without running it: that take
 * started no attempt.
 */
export function failedByBullmqLimit(reason: string | null | undefined): boolean {
  return !!reason && !CODED.test(reason) && BULLMQ_REASONS.some(([pattern]) => pattern.test(reason));
}

export function encodeFailure(code: string, message: string): string {
  return `[${code}] ${message}`;
}

export function decodeFailure(reason: string | null | undefined): { code: string; message: string } | null {
  if (!reason) return null;
  const match = CODED.exec(reason);
  if (match) return { code: match[1]!, message: match[2]! };
  for (const [pattern, code] of BULLMQ_REASONS) {
    if (pattern.test(reason)) return { code, message: `the task's worker stopped answering too many times (${reason})` };
  }
  return { code: 'internal_error', message: reason };
}

/**
 * The final status a failure reason means: cancel and timeout are BullMQ failures with those codes, and a
 * task cancelled because a dependency failed reads `cancelled` too (as the Lua scripts read it). The one
 * place TypeScript decides it, so events and counters agree with GET /tasks.
 */
export function finalStatusOfFailure(reason: string | null | undefined): 'failed' | 'cancelled' | 'timeout' {
  const code = decodeFailure(reason)?.code;
  if (code === 'cancelled' || code === 'dependency_failed') return 'cancelled';
  return code === 'timeout' ? 'timeout' : 'failed';
}
