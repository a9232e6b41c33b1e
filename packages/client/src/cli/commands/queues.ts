// `taskengine queues`: each task type's queue, its paused state, counts, workers and rate limit.
import { TASK_STATUSES } from '@taskengine/core/model/status';
import { defineCommand } from '../command.js';
import { table } from '../output.js';

export default defineCommand({
  name: 'queues',
  description: "Show each task type's queue: paused or not, tasks by status, worker processes and slots, rate limit.",
  options: {},
  examples: ['taskengine queues', 'taskengine queues --json'],
  async run(ctx) {
    const answer = await ctx.client.queues();
    if (ctx.json) {
      ctx.printJson(answer);
      return 0;
    }
    const rows = answer.queues.map((q) => [
      q.type,
      q.paused ? 'paused' : 'running',
      ...TASK_STATUSES.map((status) => String(q.counts[status])),
      String(q.workers),
      String(q.concurrency),
      q.rate_limit ? `${q.rate_limit.max}/${q.rate_limit.duration_seconds}s` : '-',
    ]);
    table(['TYPE', 'STATE', ...TASK_STATUSES.map((s) => s.toUpperCase()), 'WORKERS', 'SLOTS', 'RATE LIMIT'], rows).forEach((l) => ctx.out(l));
    return 0;
  },
});
