// `taskengine retry <id>` retries one failed, timed-out or cancelled task; `taskengine retry --status …
// --type …` retries the tasks matching the filters (up to --limit, at most 1000 a call).
import type { RetryableStatus, TaskType } from '../../types.js';
import { defineCommand, numberOption, UsageError } from '../command.js';
import { commaList } from './list.js';

export default defineCommand({
  name: 'retry',
  args: '[<id>]',
  positionals: [0, 1],
  description: [
    'Retry a failed, timed-out or cancelled task: the same task goes back into its queue with a fresh retry',
    'budget. Any other status is an error (conflict, exit 4). With --status and/or --type instead of an id,',
    'retry every matching task (status default failed; up to --limit, at most 1000 a call).',
  ].join('\n'),
  options: {
    status: { type: 'string', short: 's', value: '<status,…>', description: 'failed (default), timeout, cancelled' },
    type: { type: 'string', short: 't', value: '<type,…>', description: 'task type, e.g. custom (default every type)' },
    limit: { type: 'string', short: 'n', value: '<n>', description: 'most tasks to retry, 1-1000 (default 1000)' },
  },
  examples: ['taskengine retry 9b2f0c1e-…', 'taskengine retry --status failed --type custom', 'taskengine retry -s failed,timeout -n 50 --json'],
  async run(ctx, values, [id]) {
    const filtered = values.status !== undefined || values.type !== undefined || values.limit !== undefined;
    if (id !== undefined && filtered) throw new UsageError('give a task id or --status/--type/--limit, not both');
    if (id === undefined && !filtered) throw new UsageError('give a task id, or --status and/or --type to retry many');
    if (id !== undefined) {
      const answer = await ctx.client.retryTask(id);
      if (ctx.json) ctx.printJson(answer);
      else ctx.out(`retried ${answer.task_id} (was ${answer.previous_status}): ${answer.status}`);
      return 0;
    }
    const answer = await ctx.client.retryTasks({
      status: commaList<RetryableStatus>(values.status),
      type: commaList<TaskType>(values.type),
      limit: numberOption(values.limit, 'limit', { integer: true, min: 1, max: 1000 }),
    });
    if (ctx.json) {
      ctx.printJson(answer);
      return 0;
    }
    answer.task_ids.forEach((taskId) => ctx.out(`retried ${taskId}`));
    answer.skipped.forEach(({ task_id, reason }) => ctx.out(`skipped ${task_id}: ${reason}`));
    ctx.out(`${answer.retried} retried, ${answer.skipped.length} skipped`);
    return 0;
  },
});
