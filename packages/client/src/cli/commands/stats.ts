// `taskengine stats`: counts by status, type and priority, timings, throughput and lifetime counters.
import { TASK_STATUSES } from '@taskengine/core/model/status';
import { defineCommand } from '../command.js';
import { fields, formatDuration, table } from '../output.js';

const counts = (c: Record<string, number>): string => Object.entries(c).map(([key, n]) => `${n} ${key}`).join(', ');
const ms = (value: number | null): string => (value === null ? '-' : formatDuration(value));

export default defineCommand({
  name: 'stats',
  description: 'Show task statistics: retained tasks by status, type and priority; timings; lifetime counters.',
  options: {},
  examples: ['taskengine stats', 'taskengine stats --json'],
  async run(ctx) {
    const stats = await ctx.client.stats();
    if (ctx.json) {
      ctx.printJson(stats);
      return 0;
    }
    const statuses = TASK_STATUSES;
    const statusCounts = Object.fromEntries(statuses.map((s) => [s, stats[s]]));
    fields([
      ['tasks', `${stats.total_tasks} retained: ${counts(statusCounts)}`],
      ['timing', `avg run ${ms(stats.avg_execution_time_ms)}, avg wait ${ms(stats.avg_wait_time_ms)}, success rate ${stats.success_rate === null ? '-' : `${Math.round(stats.success_rate * 1000) / 10}%`}`],
      ['last minute', `${stats.throughput.completed_last_minute} completed, ${stats.throughput.failed_last_minute} failed`],
      ['lifetime', counts(stats.lifetime)],
      ['workers', `${stats.workers.total} (${stats.workers.busy} busy)`],
    ]).forEach((l) => ctx.out(l));
    const typeRows = Object.entries(stats.by_type)
      .filter(([, c]) => Object.values(c).some((n) => n > 0))
      .map(([type, c]) => [type, ...statuses.map((s) => String(c[s]))]);
    if (typeRows.length) {
      ctx.out();
      table(['TYPE', ...statuses.map((s) => s.toUpperCase())], typeRows).forEach((l) => ctx.out(l));
    }
    const priorityRows = Object.entries(stats.by_priority)
      .filter(([, c]) => c.queued + c.running > 0)
      .map(([name, c]) => [name, String(c.queued), String(c.running)]);
    if (priorityRows.length) {
      ctx.out();
      table(['PRIORITY', 'QUEUED', 'RUNNING'], priorityRows).forEach((l) => ctx.out(l));
    }
    return 0;
  },
});
