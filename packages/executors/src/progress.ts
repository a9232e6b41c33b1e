// Progress from work that may outlive its attempt: once the signal fires the attempt is over (the
// worker has flushed its last progress), and a stream may still deliver one more chunk before it sees
// the abort. Reports after that are dropped, so nothing is written to a task that has already ended
// and no progress timer is left behind.
import type { ExecutionContext } from '@taskengine/core';

export function progressUntilAborted(ctx: Pick<ExecutionContext, 'signal' | 'progress'>): (percent: number) => void {
  return (percent) => {
    if (!ctx.signal.aborted) ctx.progress(percent);
  };
}
