// Retry-After (RFC 9110 section 10.2.3): delay-seconds or an HTTP date. The engine waits at least this
// long before the retry (TaskError.retryAfterMs).

/** Longest wait taken from a server: a hostile or confused one must not park a task for days. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

const HTTP_DATE = /(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec).*\d{2}:\d{2}:\d{2}/i;

/** Milliseconds to wait, or undefined when the header is absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    // Date.parse reads almost anything ("-5" is a year): insist on a date with a month name and a time,
    // which all three HTTP-date forms (IMF-fixdate, RFC 850, asctime) have.
    if (!HTTP_DATE.test(text)) return undefined;
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}
