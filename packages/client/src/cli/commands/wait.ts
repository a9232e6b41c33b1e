// `taskengine wait <id>...`: follows tasks to their end; the exit code says how they ended.
import { defineCommand, numberOption, waitTimeoutMs } from '../command.js';
import { followTask, followTasks } from '../follow.js';

export const WAIT_OPTIONS = {
  timeout: { type: 'string', value: '<seconds>', description: 'give up after this long (exit 5); the task keeps running' },
  interval: { type: 'string', value: '<ms>', description: "longest pause between polls, when the API's event stream cannot be used (default 1000)" },
} as const;

export default defineCommand({
  name: 'wait',
  args: '<id>...',
  positionals: [1, Infinity],
  description: [
    'Wait until the task ends, showing its progress on stderr (a bar on a terminal, plain lines otherwise).',
    "It follows the task's live event stream, and polls when the stream cannot be used.",
    'Exit code: 0 completed, 1 failed, 2 timeout, 3 cancelled, 4 usage or API error, 5 gave up (--timeout).',
    'With several ids: 0 when all completed, else the lowest other code among them.',
  ].join('\n'),
  options: WAIT_OPTIONS,
  examples: ['taskengine wait 9b2f0c1e-…', 'taskengine wait 9b2f0c1e-… --timeout 60 --json'],
  run(ctx, values, ids) {
    const options = {
      timeoutMs: waitTimeoutMs(values.timeout, 'timeout'),
      intervalMs: numberOption(values.interval, 'interval', { min: 10 }),
    };
    return ids.length === 1 ? followTask(ctx, ids[0]!, options) : followTasks(ctx, ids, options);
  },
});
