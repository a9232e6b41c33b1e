// API keys, task-type scopes, the dashboard's Basic login, rate limits shared through Redis, and
// security headers, through real HTTP on a real Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { startEngine, type Engine } from '../support/harness.js';

const FULL = 'full-key-0123456789';
const HASHED = 'hashed-key-abcdef';
const SCOPED = 'scoped-key-ai-only';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`admin:${key}`).toString('base64')}` });

let engine: Engine;

beforeAll(async () => {
  engine = await startEngine({
    label: 'auth',
    overrides: {
      auth: {
        api_keys: [
          FULL,
          { name: 'ops', key_sha256: createHash('sha256').update(HASHED).digest('hex') },
          { name: 'ai-team', key: SCOPED, task_types: ['ai_inference'] },
        ],
      },
    },
  });
});
afterAll(async () => {
  await engine.stop();
});

describe('API keys', () => {
  it('refuses a request without a key, or with a wrong one, with 401 and a challenge', async () => {
    const none = await engine.request('GET', '/stats');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    const wrong = await engine.request('GET', '/stats', undefined, bearer('not-a-key'));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.message).toBe('the API key is not valid');
  });

  it('takes a key as a bearer token or X-API-Key, plain or configured by its SHA-256', async () => {
    expect((await engine.request('GET', '/stats', undefined, bearer(FULL))).status).toBe(200);
    expect((await engine.request('GET', '/stats', undefined, { 'x-api-key': FULL })).status).toBe(200);
    expect((await engine.request('GET', '/stats', undefined, bearer(HASHED))).status).toBe(200);
  });

  it('checks the key before reading the body', async () => {
    const res = await engine.request('POST', '/tasks', '{"not json', { 'content-type': 'application/json' });
    expect(res.status).toBe(401);
  });

  it('leaves /health open', async () => {
    expect((await engine.request('GET', '/health')).status).toBe(200);
  });
});

describe('task-type scopes', () => {
  let customTaskId: string;

  beforeAll(async () => {
    const res = await engine.request('POST', '/tasks', { type: 'custom', delay_seconds: 600 }, bearer(FULL));
    expect(res.status).toBe(201);
    customTaskId = res.body.task_id;
  });

  it('refuses creating another type, alone or in a batch, and creates nothing', async () => {
    const single = await engine.request('POST', '/tasks', { type: 'custom' }, bearer(SCOPED));
    expect(single.status).toBe(403);
    expect(single.body.error).toMatchObject({ code: 'forbidden', details: { task_types: ['custom'] } });
    const before = (await engine.request('GET', '/tasks?task_type=custom', undefined, bearer(FULL))).body.total;
    const batch = await engine.request('POST', '/tasks/batch', { tasks: [{ type: 'custom' }, { type: 'custom' }] }, bearer(SCOPED));
    expect(batch.status).toBe(403);
    expect((await engine.request('GET', '/tasks?task_type=custom', undefined, bearer(FULL))).body.total).toBe(before);
  });

  it("refuses reading, cancelling or listing another type's tasks", async () => {
    expect((await engine.request('GET', `/tasks/${customTaskId}`, undefined, bearer(SCOPED))).status).toBe(403);
    expect((await engine.request('POST', `/tasks/${customTaskId}/cancel`, undefined, bearer(SCOPED))).status).toBe(403);
    expect((await engine.request('GET', '/tasks?task_type=custom', undefined, bearer(SCOPED))).status).toBe(403);
    expect((await engine.request('GET', `/tasks/${customTaskId}`, undefined, bearer(FULL))).body.status).toBe('pending');
  });

  it('lists only its own types when no type is named', async () => {
    const res = await engine.request('GET', '/tasks', undefined, bearer(SCOPED));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 0, tasks: [], filters: { type: 'ai_inference' } });
  });
});

describe('dashboard login', () => {
  const path = '/admin/queues';

  it('asks a browser for Basic credentials and takes the key as the password', async () => {
    const none = await engine.request('GET', path);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Basic');
    const page = await engine.request('GET', path, undefined, basic(FULL));
    expect(page.status).toBe(200);
    expect(String(page.body)).toContain('<html');
  });

  it('is closed to keys scoped to task types', async () => {
    expect((await engine.request('GET', path, undefined, basic(SCOPED))).status).toBe(403);
  });
});

describe('security headers', () => {
  it('sends the security headers that matter for JSON on API answers', async () => {
    const res = await engine.request('GET', '/health');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });
});

describe('rate limits', () => {
  it('counts per key across API replicas and answers 429 with Retry-After', async () => {
    const overrides = { server: { rate_limit: { enabled: true, window_seconds: 60, max: 3 } }, auth: { api_keys: [FULL, HASHED] } };
    const first = await startEngine({ label: 'ratelimit', overrides });
    const second = await startEngine({ prefix: first.prefix, overrides });
    try {
      const statuses: number[] = [];
      for (const replica of [first, second, first]) statuses.push((await replica.request('GET', '/stats', undefined, bearer(FULL))).status);
      expect(statuses).toEqual([200, 200, 200]);
      const limited = await second.request('GET', '/stats', undefined, bearer(FULL));
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe('rate_limited');
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // Another key has its own allowance; /health is never limited.
      expect((await first.request('GET', '/stats', undefined, bearer(HASHED))).status).toBe(200);
      expect((await first.request('GET', '/health')).status).toBe(200);
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});
