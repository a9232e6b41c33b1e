// `taskengine workers`: the live worker processes.
import { defineCommand } from '../command.js';
import { table } from '../output.js';

export default defineCommand({
  name: 'workers',
  description: 'List the live worker processes, on every machine.',
  options: {},
  examples: ['taskengine workers', 'taskengine workers --json'],
  async run(ctx) {
    const answer = await ctx.client.workers();
    if (ctx.json) {
      ctx.printJson(answer);
      return 0;
    }
    const rows = answer.workers.map((w) => [
      w.worker_id, w.hostname, String(w.pid), w.status, `${w.active_tasks}/${w.concurrency}`,
      String(w.completed_tasks), String(w.failed_tasks), w.last_heartbeat, w.task_types.join(','),
    ]);
    if (rows.length) table(['WORKER', 'HOST', 'PID', 'STATUS', 'ACTIVE', 'COMPLETED', 'FAILED', 'HEARTBEAT', 'TYPES'], rows).forEach((l) => ctx.out(l));
    ctx.out(`${answer.total} workers, ${answer.busy} busy`);
    return 0;
  },
});
