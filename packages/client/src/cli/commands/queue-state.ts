// `taskengine pause <type>` and `taskengine resume <type>`: one command definition for both, since they
// differ only in the verb.
import type { TaskType } from '../../types.js';
import { defineCommand } from '../command.js';

export function queueStateCommand(verb: 'pause' | 'resume') {
  return defineCommand({
    name: verb,
    args: '<type>',
    positionals: [1, 1],
    description:
      verb === 'pause'
        ? 'Pause a task type\'s queue on every worker: no task of it starts until resumed; running tasks finish.'
        : "Resume a task type's queue: its queued tasks start again.",
    options: {},
    examples: [`taskengine ${verb} custom`],
    async run(ctx, _values, [type]) {
      // The server names the task types when this is not one of them (validation_error, exit 4).
      const answer = verb === 'pause' ? await ctx.client.pauseQueue(type as TaskType) : await ctx.client.resumeQueue(type as TaskType);
      if (ctx.json) ctx.printJson(answer);
      else ctx.out(`${answer.type} ${answer.paused ? 'paused' : 'resumed'}`);
      return 0;
    },
  });
}
