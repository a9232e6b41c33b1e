// `taskengine events`: follows every task's status and progress live (GET /events), one line per event,
// until Ctrl-C or --count events. A dropped stream is opened again from the last event seen
// (Last-Event-ID), so nothing in between is lost; a resync note says when some could not be had.
import { setTimeout as sleep } from 'node:timers/promises';
import type { TaskType } from '@taskengine/core';
import { TaskEngineApiError } from '../../errors.js';
import { defineCommand, numberOption } from '../command.js';

/** Pause before opening a dropped stream again, doubling up to the last. */
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 5000];

export default defineCommand({
  name: 'events',
  description: [
    "Follow every task's status and progress changes live, one line per event (--json: one JSON object per line,",
    'with its event name and id). If the connection drops, it reconnects and resumes after the last event it printed.',
  ].join('\n'),
  options: {
    type: { type: 'string', value: '<types>', description: 'only these task types (comma list); default all your key may see' },
    count: { type: 'string', value: '<n>', description: 'stop after this many events (exit 0)' },
  },
  examples: ['taskengine events', 'taskengine events --type custom,ai_inference', 'taskengine events --count 10 --json'],
  async run(ctx, values) {
    const count = numberOption(values.count, 'count', { integer: true, min: 1 });
    const type = values.type?.split(',').map((t) => t.trim()) as TaskType[] | undefined;
    const stop = new AbortController();
    const onInterrupt = (): void => stop.abort();
    process.once('SIGINT', onInterrupt);
    let printed = 0;
    let lastEventId: string | undefined;
    let failures = 0;
    try {
      while (!stop.signal.aborted) {
        try {
          for await (const event of ctx.client.events({ type }, { signal: stop.signal, ...(lastEventId ? { lastEventId } : {}) })) {
            failures = 0;
            if (event.event === 'resync') {
              ctx.err(`note: events of ${event.data.types.join(', ')} were missed while disconnected; list those tasks to see where they stand`);
              continue;
            }
            lastEventId = event.id ?? lastEventId;
            if (ctx.json) ctx.out(JSON.stringify(event));
            else if (event.event === 'progress') ctx.out(`${event.data.at}  ${event.data.type}  ${event.data.task_id}  progress ${event.data.progress}%`);
            else ctx.out(`${event.data.at}  ${event.data.type}  ${event.data.task_id}  ${event.data.status}${event.data.error_code ? ` (${event.data.error_code})` : ''}`);
            if (count !== undefined && ++printed >= count) return 0;
          }
          ctx.err('stream ended by the server (restarting?)');
        } catch (err) {
          if (stop.signal.aborted) break;
          // An error answer (a bad --type, a key without access) will not change by asking again.
          if (err instanceof TaskEngineApiError) throw err;
          ctx.err(`stream lost (${(err as Error).message})`);
        }
        const delay = RECONNECT_DELAYS_MS[Math.min(failures++, RECONNECT_DELAYS_MS.length - 1)]!;
        ctx.err(`reconnecting in ${delay} ms${lastEventId ? ', resuming after the last event shown' : ''}`);
        await sleep(delay, undefined, { signal: stop.signal }).catch(() => {});
      }
      return 130;
    } finally {
      process.off('SIGINT', onInterrupt);
    }
  },
});
