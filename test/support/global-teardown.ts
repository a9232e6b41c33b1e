import type { RedisClusterHandle } from './redis-cluster.js';
import type { RedisServerHandle } from './redis-server.js';
import { removeDir } from './redis-server.js';

export default async function globalTeardown(): Promise<void> {
  const cluster = (globalThis as Record<string, unknown>).__TEST_REDIS_CLUSTER__ as RedisClusterHandle | undefined;
  await cluster?.stop();
  const server = (globalThis as Record<string, unknown>).__TEST_REDIS__ as RedisServerHandle | undefined;
  if (!server) return;
  await server.stop();
  removeDir(server.dir);
}
