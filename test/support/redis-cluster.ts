// A Redis Cluster on loopback for tests: three masters (no replicas), each a real redis-server with
// `cluster-enabled yes` in a temporary directory of its own, joined by `redis-cli --cluster create`
// (which spreads the 16384 slots evenly), ready once every node reports `cluster_state:ok`.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { waitFor } from './harness.js';
import { removeDir, startRedisServer, type RedisServerHandle } from './redis-server.js';

const run = promisify(execFile);

export interface RedisClusterHandle {
  masters: RedisServerHandle[];
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

async function ask<T>(port: number, question: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return await question(client);
  } finally {
    client.disconnect();
  }
}

export async function startRedisCluster(size = 3): Promise<RedisClusterHandle> {
  const masters: RedisServerHandle[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(masters.map((master) => master.stop('SIGKILL')));
    for (const master of masters) removeDir(master.dir);
  };
  try {
    for (let i = 0; i < size; i++) {
      masters.push(await startRedisServer(['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000', '--maxmemory-policy', 'noeviction']));
    }
    const addresses = masters.map((master) => `127.0.0.1:${master.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    for (const master of masters) {
      await waitFor(() => ask(master.port, (c) => c.cluster('INFO')).then((info) => String(info).includes('cluster_state:ok')), {
        timeoutMs: 20_000,
        intervalMs: 100,
        what: `cluster node ${master.port} to be ok`,
      });
    }
    const slotOwner = async (slot: number): Promise<number> => {
      const ranges = await ask(masters[0]!.port, (c) => c.cluster('SLOTS'));
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no node owns slot ${slot}`);
      return range[2]![1];
    };
    return {
      masters,
      nodes: addresses,
      async portOfKey(key) {
        return slotOwner(Number(await ask(masters[0]!.port, (c) => c.cluster('KEYSLOT', key))));
      },
      async configSet(port, name, value) {
        await ask(port, (c) => c.config('SET', name, value));
      },
      async keysByNode(prefix) {
        const found = new Map<number, string[]>();
        for (const master of masters) found.set(master.port, await ask(master.port, (c) => c.keys(`${prefix}:*`)));
        return found;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
