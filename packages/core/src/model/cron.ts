// When a cron schedule's runs come due (CONTRACT section 7, Schedules): cron expressions and IANA time
// zones, checked with the very parser BullMQ schedules with (cron-parser, at the version bullmq pins), so
// what the API accepts is what the workers can schedule.
import { CronExpressionParser } from 'cron-parser';

/** Cron is read in UTC unless a zone is given: the process's own zone would differ between machines. */
export const DEFAULT_CRON_TIMEZONE = 'UTC';

/**
 * True for a time zone name the runtime's IANA database knows (`Europe/Berlin`, `UTC`, `US/Eastern`).
 * Offsets such as `+05:00` are refused: they do not follow daylight saving, which is what a zone is for.
 */
export function isIanaTimeZone(zone: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The first time after `after` a cron expression fires in `zone`, or the parser's reason when it never
 * can (a bad field, a date that does not exist such as 30 February, a zone the parser cannot use).
 */
export function nextCronTime(expression: string, zone: string, after = new Date()): { at: Date } | { problem: string } {
  try {
    return { at: CronExpressionParser.parse(expression, { tz: zone, currentDate: after }).next().toDate() };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}
