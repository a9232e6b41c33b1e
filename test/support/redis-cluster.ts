// A Redis Cluster on loopback for tests: masters (three by default) and optionally a replica of each,
// every node a real redis-server with `cluster-enabled yes` in a temporary directory of its own, joined
// by `redis-cli --cluster create` (which spreads the 16384 slots evenly over the masters), ready once
// every node reports `cluster_state:ok` and every replica is in sync.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { waitFor } from './harness.js';
import { askRedis, removeDir, startRedisServer, type RedisServerHandle } from './redis-server.js';

const run = promisify(execFile);

export interface RedisClusterHandle {
  /** The nodes that were masters at creation. */
  masters: RedisServerHandle[];
  /** Their replicas (none unless asked for). */
  replicas: RedisServerHandle[];
  /** Seed nodes as the engine's config spells them (`redis.nodes`). */
  nodes: string[];
  /** Which master holds a key (by CLUSTER KEYSLOT and the slot map). */
  portOfKey(key: string): Promise<number>;
  /** CONFIG SET on one node (e.g. a tiny maxmemory, to make that node refuse writes). */
  configSet(port: number, name: string, value: string): Promise<void>;
  /** Every key under the prefix, per master port. */
  keysByNode(prefix: string): Promise<Map<number, string[]>>;
  stop(): Promise<void>;
}

export async function startRedisCluster(size = 3, { replicas = false } = {}): Promise<RedisClusterHandle> {
  const servers: RedisServerHandle[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')));
    for (const server of servers) removeDir(server.dir);
  };
  try {
    for (let i = 0; i < (replicas ? 2 * size : size); i++) {
      servers.push(await startRedisServer(['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000', '--maxmemory-policy', 'noeviction']));
    }
    const addresses = servers.map((server) => `127.0.0.1:${server.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', replicas ? '1' : '0', '--cluster-yes'], { timeout: 30_000 });
    for (const server of servers) {
      await waitFor(
        () =>
          askRedis(server.port, async (c) => {
            const [info, replication] = [String(await c.cluster('INFO')), await c.info('replication')];
            return info.includes('cluster_state:ok') && (!replication.includes('role:slave') || replication.includes('master_link_status:up'));
          }),
        { timeoutMs: 20_000, intervalMs: 100, what: `cluster node ${server.port} to be ok and in sync` },
      );
    }
    const roles = await Promise.all(servers.map((server) => askRedis(server.port, (c) => c.info('replication'))));
    const masters = servers.filter((_, i) => roles[i]!.includes('role:master'));
    // Any node that still answers knows the slot map (a test may have killed some).
    const askAny = async <T>(question: (client: Redis) => Promise<T>): Promise<T> => {
      let last: unknown;
      for (const server of servers) {
        if (server.process.exitCode !== null || server.process.signalCode !== null) continue;
        try {
          return await askRedis(server.port, question);
        } catch (err) {
          last = err;
        }
      }
      throw last ?? new Error('no cluster node answers');
    };
    const slotOwner = async (slot: number): Promise<number> => {
      const ranges = await askAny((c) => c.cluster('SLOTS'));
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no node owns slot ${slot}`);
      return range[2]![1];
    };
    return {
      masters,
      replicas: servers.filter((server) => !masters.includes(server)),
      nodes: addresses,
      async portOfKey(key) {
        return slotOwner(Number(await askAny((c) => c.cluster('KEYSLOT', key))));
      },
      async configSet(port, name, value) {
        await askRedis(port, (c) => c.config('SET', name, value));
      },
      async keysByNode(prefix) {
        const found = new Map<number, string[]>();
        for (const master of masters) found.set(master.port, await askRedis(master.port, (c) => c.keys(`${prefix}:*`)));
        return found;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
