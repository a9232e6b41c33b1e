// The id of a GET /events event (apps/api/src/live/events-cursor.ts): read back from Last-Event-ID for
// the watched types only, refused when it is not one this API sends, and moved only forward.
import { describe, expect, it } from '@jest/globals';
import { EventsCursor } from '@taskengine/api/live/events-cursor';
import type { TaskEvent } from '@taskengine/core';

const progress = (type: 'custom' | 'system_command', id: string): TaskEvent => ({
  event: 'progress',
  id,
  data: { task_id: 't', type, progress: 50, at: new Date(0).toISOString() },
});

describe('EventsCursor', () => {
  it('reads the positions of the watched types from Last-Event-ID', () => {
    expect(EventsCursor.parse(undefined, ['custom'])).toBeNull();
    expect(EventsCursor.parse('  ', ['custom'])).toBeNull();
    expect(EventsCursor.parse('custom=12-0;system_command=0-0', ['custom', 'system_command'])).toEqual(
      new Map([['custom', '12-0'], ['system_command', '0-0']]),
    );
    // A type the stream no longer watches is ignored, not refused: the client may have narrowed ?type.
    expect(EventsCursor.parse('custom=12-0;system_command=5-1', ['custom'])).toEqual(new Map([['custom', '12-0']]));
  });

  it.each(['custom', 'custom=', 'custom=12', 'nope=1-0', 'custom=1-0=2', 'custom=1-0,system_command=2-0', 'custom=-1-0'])(
    'refuses %j with a 400 naming Last-Event-ID',
    (header) => {
      expect(() => EventsCursor.parse(header, ['custom', 'system_command'])).toThrow(expect.objectContaining({ status: 400, code: 'validation_error' }));
    },
  );

  it('moves forward per type and says when an event is one the client has', () => {
    const cursor = new EventsCursor(new Map([['custom', '10-0'], ['system_command', '0-0']]));
    expect(cursor.advance(progress('custom', '9-5'))).toBe(false);
    expect(cursor.advance(progress('custom', '10-0'))).toBe(false);
    expect(cursor.advance(progress('custom', '10-1'))).toBe(true);
    expect(cursor.advance(progress('system_command', '3-0'))).toBe(true);
    expect(cursor.toString()).toBe('custom=10-1;system_command=3-0');
    expect(EventsCursor.parse(cursor.toString(), ['custom', 'system_command'])).toEqual(new Map([['custom', '10-1'], ['system_command', '3-0']]));
  });
});
