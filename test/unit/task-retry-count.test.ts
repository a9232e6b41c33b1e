// retry_count read from a BullMQ job hash: attempts started beyond the first. BullMQ's `ats` counts every
// take of the job, and a task failed at the stall limit is taken once more only to be failed, unrun.
import { describe, expect, it } from '@jest/globals';
import { encodeFailure, taskFromJobHash } from '@taskengine/core';

const hash = (fields: Record<string, string>): string[] =>
  Object.entries({ data: '{"payload":{},"timeout_seconds":5}', opts: '{"attempts":4}', timestamp: '1', ...fields }).flat();

describe('taskFromJobHash retry_count', () => {
  it('counts every attempt a worker started', () => {
    expect(taskFromJobHash('custom', 'a', 'completed', hash({ ats: '3' })).retry_count).toBe(2);
    expect(taskFromJobHash('custom', 'b', 'queued', hash({})).retry_count).toBe(0);
  });

  it('leaves out the take that failed a task at the stall limit without running it', () => {
    const stalled = taskFromJobHash('custom', 'c', 'failed', hash({ ats: '3', failedReason: 'job stalled more than allowable limit' }));
    expect(stalled).toMatchObject({ error_code: 'stalled', retry_count: 1 });
  });

  it('keeps the last attempt of a handler that reported its own stalled code: that attempt ran', () => {
    const own = taskFromJobHash('custom', 'd', 'failed', hash({ ats: '3', failedReason: encodeFailure('stalled', 'upstream stalled') }));
    expect(own).toMatchObject({ error_code: 'stalled', retry_count: 2 });
  });
});
