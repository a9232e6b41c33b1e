// Retry-After as servers send it: delay-seconds or an HTTP date; anything else is ignored.
import { describe, expect, it } from '@jest/globals';
import { parseRetryAfter } from '@taskengine/executors';

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-27T10:00:00.000Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter(['3', '9'], now)).toBe(3000);
  });

  it('reads an HTTP date, counting from now; a past date means no wait', () => {
    expect(parseRetryAfter('Fri, 27 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Fri, 27 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('Friday, 27-Nov-26 10:00:10 GMT', now)).toBe(10_000); // RFC 850
    expect(parseRetryAfter('Fri Nov 27 10:00:05 2026', now)).toBeGreaterThanOrEqual(0); // asctime (local time)
  });

  it('caps the wait at one hour', () => {
    expect(parseRetryAfter('999999', now)).toBe(3_600_000);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
  });
});
