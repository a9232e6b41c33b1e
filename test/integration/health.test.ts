// GET /health and Redis outages (CONTRACT section 3): with Redis up /health is 200 "healthy"; when Redis
// stops answering, /health answers 503 "unhealthy" at once and the other routes 503 `unavailable`
// instead of hanging; the API process stays up and recovers by itself once Redis is back on its port.
// Runs on a private redis-server of its own: the shared test Redis is never stopped.
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createApp } from '@taskengine/api/app';
import { createLogger, createRedis, TaskStore, type RedisClient } from '@taskengine/core';
import { createExecutorRegistry } from '@taskengine/executors';
import { request, testConfig, uniquePrefix, waitFor, type HttpResult } from '../support/harness.js';
import { removeDir, startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

let redisServer: RedisServerHandle;
let redis: RedisClient;
let store: TaskStore;
let server: Server;
let baseUrl: string;

const call = <T = any>(method: string, path: string, body?: unknown): Promise<HttpResult<T>> => request<T>(baseUrl, method, path, body);

/** A request that must answer within `ms`: an outage must never make the API hang. */
async function timed<T = any>(method: string, path: string, body?: unknown): Promise<{ res: HttpResult<T>; ms: number }> {
  const started = Date.now();
  const res = await call<T>(method, path, body);
  return { res, ms: Date.now() - started };
}

const echoTask = { type: 'custom', payload: { handler: 'echo' } };

beforeAll(async () => {
  redisServer = await startRedisServer();
  const prefix = uniquePrefix('health');
  const config = testConfig(prefix, { redis: { url: redisServer.url, prefix } });
  const logger = createLogger(config, 'test');
  redis = createRedis(config, 'api');
  await waitFor(() => redis.status === 'ready', { what: 'redis connection' });
  store = new TaskStore(redis, config);
  const app = createApp({ config, redis, store, executors: createExecutorRegistry(config), logger });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = server.address();
  baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}, 20_000);

afterAll(async () => {
  if (server) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
  }
  await store?.close().catch(() => {});
  redis?.disconnect();
  if (redisServer) {
    await redisServer.stop('SIGKILL');
    removeDir(redisServer.dir);
  }
}, 20_000);

describe('GET /health and Redis outages', () => {
  it('is healthy while Redis answers', async () => {
    const { res, ms } = await timed('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'healthy', node: '02', name: 'TaskEngine', redis: 'up', workers: 0, queue_size: 0 });
    expect(typeof res.body.version).toBe('string');
    expect(typeof res.body.uptime_seconds).toBe('number');
    expect(Number.isNaN(Date.parse(res.body.timestamp))).toBe(false);
    expect(ms).toBeLessThan(1_500);

    const created = await call('POST', '/tasks', echoTask);
    expect(created.status).toBe(201);
    const health = await call('GET', '/health');
    expect(health.body.queue_size).toBe(1);
  });

  it('answers 503 at once while Redis is down, and recovers when Redis is back on its port', async () => {
    const { port, dir } = redisServer;
    await redisServer.stop('SIGKILL');

    // /health: 503 unhealthy, promptly (each request, not just the last one, must answer quickly).
    const down = await waitFor(
      async () => {
        const { res, ms } = await timed('GET', '/health');
        expect(ms).toBeLessThan(1_500);
        return res.status === 503 ? res : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 50, what: '/health to report Redis down' },
    );
    expect(down.body).toMatchObject({ status: 'unhealthy', redis: 'down', node: '02', name: 'TaskEngine' });

    const health = await timed('GET', '/health');
    expect(health.res.status).toBe(503);
    expect(health.res.body).toMatchObject({ status: 'unhealthy', redis: 'down' });
    expect(health.ms).toBeLessThan(1_500);

    // Other routes: 503 unavailable in the error envelope, without waiting on Redis.
    const create = await timed('POST', '/tasks', echoTask);
    expect(create.res.status).toBe(503);
    expect(create.res.body).toMatchObject({ success: false, error: { code: 'unavailable' } });
    expect(typeof create.res.body.error.message).toBe('string');
    expect(create.ms).toBeLessThan(1_500);

    const list = await timed('GET', '/tasks');
    expect(list.res.status).toBe(503);
    expect(list.res.body).toMatchObject({ success: false, error: { code: 'unavailable' } });
    expect(list.ms).toBeLessThan(1_500);

    // Still down a little later (the client keeps reconnecting): same answers, the API is still up.
    const again = await timed('GET', '/health');
    expect(again.res.status).toBe(503);
    expect(again.ms).toBeLessThan(1_500);

    // Redis comes back on the same port (empty: no persistence): the API recovers on its own.
    redisServer = await startRedisServer([], { port, dir });
    const up = await waitFor(
      async () => {
        const res = await call('GET', '/health');
        return res.status === 200 ? res : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: '/health to report Redis up again' },
    );
    expect(up.body).toMatchObject({ status: 'healthy', redis: 'up', node: '02' });

    // Healthy means usable: the next create succeeds.
    const created = await call('POST', '/tasks', echoTask);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ success: true, status: 'queued' });
    const fetched = await call('GET', `/tasks/${created.body.task_id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toMatchObject({ id: created.body.task_id, status: 'queued', type: 'custom' });
  }, 40_000);

  it('answers 503 without hanging while Redis is alive but does not answer (SIGSTOP)', async () => {
    expect((await call('GET', '/health')).status).toBe(200);
    redisServer.process.kill('SIGSTOP');
    try {
      // The connection stays open, so only a deadline can tell: /health gives up after a second.
      const health = await timed('GET', '/health');
      expect(health.res.status).toBe(503);
      expect(health.res.body).toMatchObject({ status: 'unhealthy', redis: 'down' });
      expect(health.ms).toBeLessThan(2_000);

      // Other routes: a 503 within the command timeout (3 s), never a hang and never a 500.
      const create = await timed('POST', '/tasks', echoTask);
      expect(create.res.body).toMatchObject({ success: false, error: { code: 'unavailable' } });
      expect(create.res.status).toBe(503);
      expect(create.ms).toBeLessThan(5_000);
    } finally {
      redisServer.process.kill('SIGCONT');
    }
    await waitFor(
      async () => {
        const res = await call('GET', '/health');
        return res.status === 200 ? res : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: '/health to report Redis up again after SIGCONT' },
    );
    const created = await call('POST', '/tasks', echoTask);
    expect(created.status).toBe(201);
  }, 30_000);
});
