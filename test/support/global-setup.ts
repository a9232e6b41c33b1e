// Finds the Redis the test suite runs on (DESIGN.md, "Tests"): REDIS_URL when set, else a throwaway
// redis-server on a free port. Test files read TEST_REDIS_URL and use a key prefix of their own.
import { startRedisCluster } from './redis-cluster.js';
import { startRedisServer } from './redis-server.js';

export default async function globalSetup(): Promise<void> {
  // TEST_REDIS_CLUSTER=1: the engines the tests start run in cluster mode on a private 3-master cluster
  // (for running a suite on Redis Cluster by hand; the cluster test starts its own either way).
  if (process.env.TEST_REDIS_CLUSTER === '1') {
    const cluster = await startRedisCluster();
    process.env.TEST_REDIS_URL = cluster.masters[0]!.url;
    process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodes.join(',');
    (globalThis as Record<string, unknown>).__TEST_REDIS_CLUSTER__ = cluster;
    return;
  }
  if (process.env.REDIS_URL) {
    process.env.TEST_REDIS_URL = process.env.REDIS_URL;
    return;
  }
  const server = await startRedisServer();
  process.env.TEST_REDIS_URL = server.url;
  (globalThis as Record<string, unknown>).__TEST_REDIS__ = server;
}
