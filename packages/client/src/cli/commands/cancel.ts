// `taskengine cancel <id>`: cancels a pending, queued or running task.
import { defineCommand } from '../command.js';

export default defineCommand({
  name: 'cancel',
  args: '<id>',
  positionals: [1, 1],
  description: [
    'Cancel a task. A pending or queued task is cancelled at once; a running one is stopped by its worker.',
    'A task that already ended is an error (task_not_cancellable, exit 4).',
  ].join('\n'),
  options: {},
  examples: ['taskengine cancel 9b2f0c1e-…'],
  async run(ctx, _values, [id]) {
    const answer = await ctx.client.cancelTask(id!);
    if (ctx.json) ctx.printJson(answer);
    else if (answer.status === 'cancelled') ctx.out(`cancelled ${answer.task_id} (was ${answer.previous_status})`);
    else ctx.out(`cancel requested for ${answer.task_id}: still running, its worker has not confirmed yet`);
    return 0;
  },
});
