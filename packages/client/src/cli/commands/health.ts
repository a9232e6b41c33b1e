// `taskengine health`: the engine's health; exit 1 when it is unhealthy (Redis down), so scripts can probe.
import { defineCommand } from '../command.js';
import { formatDuration } from '../output.js';

export default defineCommand({
  name: 'health',
  description: 'Show the health of the API and its Redis. Exit code 0 healthy or degraded, 1 unhealthy.',
  options: {},
  examples: ['taskengine health', 'taskengine health --json'],
  async run(ctx) {
    const health = await ctx.client.health();
    if (ctx.json) {
      ctx.printJson(health);
    } else {
      ctx.out(
        `${health.status}  ${health.name} node ${health.node} v${health.version}  redis ${health.redis}  workers ${health.workers}` +
          `  queued ${health.queue_size ?? '?'}  up ${formatDuration(health.uptime_seconds * 1000)}`,
      );
      ctx.out(`dependencies  ${Object.entries(health.dependencies).map(([name, state]) => `${name} ${state}`).join(', ')}`);
    }
    return health.status === 'unhealthy' ? 1 : 0;
  },
});
