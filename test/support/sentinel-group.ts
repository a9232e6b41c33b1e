// A Redis Sentinel deployment on loopback for tests: a master, one replica of it and three sentinels
// (quorum 2), each a real redis-server with a temporary directory of its own. Timings are short
// (down after 1 s) so a failover takes a few seconds instead of the production default's half minute.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './harness.js';
import { askRedis, freePort, removeDir, startRedisServer, type RedisServerHandle } from './redis-server.js';

export const MASTER_NAME = 'm';

export interface SentinelHandle {
  port: number;
  dir: string;
  process: ChildProcess;
}

export interface SentinelGroup {
  master: RedisServerHandle;
  replica: RedisServerHandle;
  sentinels: SentinelHandle[];
  /** The sentinels as the engine's config spells them. */
  addresses: Array<{ host: string; port: number }>;
  /** The port the sentinels currently name as master. */
  masterPort(): Promise<number>;
  /**
   * Starts a new replica of the current master (e.g. replacing a master a test killed), on a port of
   * its own so nothing else can have taken it meanwhile; resolves once it has synced.
   */
  addReplica(): Promise<RedisServerHandle>;
  /** SIGKILLs every process and removes their directories. */
  stop(): Promise<void>;
}

async function startSentinel(masterPort: number): Promise<SentinelHandle> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'taskengine-sentinel-'));
  // Sentinel rewrites its config file (it records what it learns), so each gets a writable one.
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
      `sentinel failover-timeout ${MASTER_NAME} 3000`,
      `sentinel parallel-syncs ${MASTER_NAME} 1`,
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  const handle = { port, dir, process: child };
  await waitFor(() => askRedis(port, (c) => c.ping()).then((pong) => pong === 'PONG'), { what: `sentinel on ${port}` });
  return handle;
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export async function startSentinelGroup(): Promise<SentinelGroup> {
  const started: Array<{ process: ChildProcess; dir: string }> = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((p) => kill(p.process)));
    for (const p of started) removeDir(p.dir);
  };
  try {
    const master = await startRedisServer();
    started.push(master);
    const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port)]);
    started.push(replica);
    await waitFor(
      () => askRedis(replica.port, (c) => c.info('replication')).then((info) => info.includes('master_link_status:up')),
      { what: 'the replica to sync with the master' },
    );
    const sentinels: SentinelHandle[] = [];
    for (let i = 0; i < 3; i++) {
      const sentinel = await startSentinel(master.port);
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    // A failover needs the sentinels to know the replica and each other (they find both through the
    // master, in a few seconds); killing the master before that would leave nobody to promote.
    await waitFor(
      async () => {
        for (const s of sentinels) {
          const [replicas, master] = await askRedis(s.port, async (c) => [
            (await c.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as unknown[],
            (await c.call('SENTINEL', 'MASTER', MASTER_NAME)) as string[],
          ]);
          const others = Number(master[master.indexOf('num-other-sentinels') + 1]);
          if (replicas.length < 1 || others < 2) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the sentinels to discover the replica and each other' },
    );
    const masterPort = async (): Promise<number> => {
      const [, port] = (await askRedis(sentinels[0]!.port, (c) =>
        c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME),
      )) as [string, string];
      return Number(port);
    };
    return {
      master,
      replica,
      sentinels,
      addresses: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      masterPort,
      async addReplica() {
        const node = await startRedisServer(['--replicaof', '127.0.0.1', String(await masterPort())]);
        started.push(node);
        await waitFor(
          () => askRedis(node.port, (c) => c.info('replication')).then((info) => info.includes('master_link_status:up')),
          { what: 'the new replica to sync' },
        );
        return node;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
