// `taskengine get <id>`: one task; with --wait, followed like `wait` and with its exit codes.
import { defineCommand, numberOption, waitTimeoutMs } from '../command.js';
import { followTask } from '../follow.js';
import { taskDetails } from '../output.js';
import { WAIT_OPTIONS } from './wait.js';

export default defineCommand({
  name: 'get',
  args: '<id>',
  positionals: [1, 1],
  description: 'Show a task. With --wait, follow it until it ends and exit like `taskengine wait`.',
  options: {
    wait: { type: 'boolean', short: 'w', description: 'wait until the task ends (exit codes as `wait`)' },
    ...WAIT_OPTIONS,
  },
  examples: ['taskengine get 9b2f0c1e-…', 'taskengine get 9b2f0c1e-… --wait --timeout 30', 'taskengine get 9b2f0c1e-… --json'],
  async run(ctx, values, [id]) {
    if (values.wait) {
      return followTask(ctx, id!, {
        timeoutMs: waitTimeoutMs(values.timeout, 'timeout'),
        intervalMs: numberOption(values.interval, 'interval', { min: 10 }),
      });
    }
    const task = await ctx.client.getTask(id!);
    if (ctx.json) ctx.printJson(task);
    else taskDetails(task).forEach((line) => ctx.out(line));
    return 0;
  },
});
