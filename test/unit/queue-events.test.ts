// How BullMQ's event stream reads as the contract's task events (packages/core/src/events/queue-events.ts):
// the entries below are what BullMQ's scripts and cancel-task-12.lua write for a task created for later,
// run, failed once, retried, and failed for good; the task's fields are read once after the whole batch.
import { describe, expect, it } from '@jest/globals';
import { decodeFailure, fieldsAsOfEachEvent, QueueEventDecoder, retryCount, type QueueEvent, type TaskStatus } from '@taskengine/core';

const entry = (id: string, fields: Record<string, string>) => ({ id, fields });

const RETRIED = [
  entry('1-0', { event: 'added', jobId: 'a', name: 'custom' }),
  entry('1-1', { event: 'delayed', jobId: 'a', delay: '5' }),
  entry('5-0', { event: 'waiting', jobId: 'a', prev: 'delayed' }),
  entry('5-1', { event: 'active', jobId: 'a', prev: 'waiting' }),
  entry('6-0', { event: 'progress', jobId: 'a', data: '40' }),
  entry('7-0', { event: 'delayed', jobId: 'a', delay: '9' }),
  entry('9-0', { event: 'waiting', jobId: 'a', prev: 'delayed' }),
  entry('9-1', { event: 'active', jobId: 'a', prev: 'waiting' }),
  entry('9-2', { event: 'stalled', jobId: 'a' }),
  entry('10-0', { event: 'progress', jobId: 'a', data: '70' }),
  entry('11-0', { event: 'failed', jobId: 'a', failedReason: '[handler_error] no', prev: 'active' }),
  entry('11-1', { event: 'retries-exhausted', jobId: 'a', attemptsMade: '2' }),
];

describe('QueueEventDecoder and fieldsAsOfEachEvent', () => {
  it("reads a retried task's entries as the changes a client saw, each with the task as it was then", () => {
    const decoder = new QueueEventDecoder();
    const events = RETRIED.map((e) => decoder.decode(e)).filter((e): e is QueueEvent => e !== null);
    // Read after the batch: two attempts started, the last progress and the last failure.
    const read = new Map([['a', { ats: '2', progress: '70', failedReason: '[handler_error] no' }]]);
    const asOf = fieldsAsOfEachEvent(events, read);
    const seen = events.map((event, i) => {
      if (event.kind === 'progress') return ['progress', event.progress];
      const reason = event.failedReason ?? asOf[i]!.failedReason;
      return [event.status, event.previous, retryCount(asOf[i]!.ats, event.status, reason), decodeFailure(reason)?.code ?? null, Number(asOf[i]!.progress)];
    });
    expect(seen).toEqual([
      ['pending', null, 0, null, 0],
      ['queued', 'pending', 0, null, 0],
      ['running', 'queued', 0, null, 0],
      ['progress', 40],
      ['pending', 'running', 0, 'handler_error', 40],
      ['queued', 'pending', 0, 'handler_error', 40],
      ['running', 'queued', 1, 'handler_error', 40],
      ['progress', 70],
      ['failed', 'running', 1, 'handler_error', 70],
    ]);
  });

  it('reads cancels, timeouts, stalls, hand-backs and new tasks by their statuses', () => {
    const decoder = new QueueEventDecoder();
    const statuses = [
      entry('1-0', { event: 'added', jobId: 'b', name: 'x' }),
      entry('1-1', { event: 'waiting', jobId: 'b' }),
      // cancel-task-12.lua writes our own status as prev.
      entry('2-0', { event: 'failed', jobId: 'b', failedReason: '[cancelled] Cancelled by client', prev: 'queued' }),
      entry('3-0', { event: 'failed', jobId: 'c', failedReason: '[timeout] attempt ran past timeout_seconds (1s)', prev: 'active' }),
      entry('4-0', { event: 'failed', jobId: 'd', failedReason: 'job stalled more than allowable limit', prev: 'active' }),
      entry('5-0', { event: 'waiting', jobId: 'e', prev: 'active' }),
      entry('6-0', { event: 'completed', jobId: 'e', returnvalue: 'null', prev: 'active' }),
      entry('7-0', { event: 'progress', jobId: 'e', data: '{"not":"a number"}' }),
    ].map((e) => decoder.decode(e));
    const shown = statuses.map((e) => (e?.kind === 'status' ? [e.taskId, e.status, e.previous] : e));
    expect(shown).toEqual([
      null,
      ['b', 'queued', null],
      ['b', 'cancelled', 'queued'],
      ['c', 'timeout', 'running'],
      ['d', 'failed', 'running'],
      ['e', 'queued', 'running'],
      ['e', 'completed', 'running'],
      null,
    ] satisfies Array<[string, TaskStatus, TaskStatus | null] | null>);
  });
});
