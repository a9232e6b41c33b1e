// Every endpoint's success and error shapes (CONTRACT section 3), through real HTTP on a real Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startEngine, waitForStatus, type Engine } from '../support/harness.js';

let engine: Engine;

beforeAll(async () => {
  engine = await startEngine({ label: 'contract', overrides: { tasks: { max_batch_size: 5 } } });
});
afterAll(async () => {
  await engine.stop();
});

const TASK_FIELDS = [
  'id', 'task_id', 'name', 'type', 'priority', 'priority_name', 'status', 'config', 'payload', 'metadata', 'result',
  'error', 'error_code', 'progress', 'created_at', 'scheduled_at', 'started_at', 'completed_at', 'retry_count',
  'worker_id', 'schedule_id',
];

describe('POST /tasks', () => {
  it('creates a queued task with the contract shape and defaults', async () => {
    const res = await engine.request('POST', '/tasks', { type: 'custom', payload: { hello: 'world' }, metadata: { team: 'a' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ success: true, status: 'queued' });
    const task = res.body.task;
    expect(Object.keys(task).sort()).toEqual([...TASK_FIELDS].sort());
    expect(task).toMatchObject({
      type: 'custom', name: 'custom', priority: 2, priority_name: 'NORMAL', status: 'queued',
      config: { timeout_seconds: 300, max_retries: 3, retry_delay_seconds: 5, backoff: 'exponential' },
      payload: { hello: 'world' }, metadata: { team: 'a' }, result: null, retry_count: 0,
    });
    expect(task.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.body.task_id).toBe(task.id);
    expect(task.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const read = await engine.request('GET', `/tasks/${task.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(task);
  });

  it('accepts priority names in any case and ignores server-owned fields', async () => {
    const res = await engine.request('POST', '/tasks', {
      type: 'custom', priority: 'high', status: 'completed', result: 42, retry_count: 9, worker_id: 'x', task_id: 'y',
    });
    expect(res.status).toBe(201);
    expect(res.body.task).toMatchObject({ priority: 1, priority_name: 'HIGH', status: 'queued', result: null, retry_count: 0 });
  });

  it('names unknown fields, at the top level and in config', async () => {
    const res = await engine.request('POST', '/tasks', { type: 'custom', colour: 'red', config: { retries: 2 } });
    expect(res.status).toBe(400);
    expect(res.body.success).toBe(false);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        { path: 'colour', message: 'unknown field' },
        { path: 'config.retries', message: 'unknown field' },
      ]),
    );
  });

  it('rejects bad values with the field path', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ type: 'nope' }, 'type'],
      [{ type: 'custom', priority: 7 }, 'priority'],
      [{ type: 'custom', config: { timeout_seconds: 0 } }, 'config.timeout_seconds'],
      [{ type: 'custom', config: { timeout_seconds: 100000 } }, 'config.timeout_seconds'],
      [{ type: 'custom', config: { max_retries: 26 } }, 'config.max_retries'],
      [{ type: 'custom', name: '' }, 'name'],
      [{ type: 'custom', payload: { handler: 'nope' } }, 'payload.handler'],
      [{ type: 'custom', payload: { handler: 'sleep' } }, 'payload.duration_ms'],
      [{ type: 'custom', id: 'has space' }, 'id'],
      [{ type: 'custom', id: '12345' }, 'id'],
      [{ type: 'custom', delay_seconds: 5, scheduled_at: '2030-01-01T00:00:00Z' }, 'delay_seconds'],
      [{ type: 'custom', metadata: { big: 'x'.repeat(17 * 1024) } }, 'metadata'],
    ];
    for (const [body, path] of cases) {
      const res = await engine.request('POST', '/tasks', body);
      expect({ body, status: res.status, code: res.body.error?.code }).toEqual({ body, status: 400, code: 'validation_error' });
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  it('answers malformed JSON, non-objects, wrong content type and huge bodies with the error body', async () => {
    const bad = await engine.request('POST', '/tasks', '{"type": "custom",');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_json');
    const array = await engine.request('POST', '/tasks', [1, 2]);
    expect(array.status).toBe(400);
    expect(array.body.error.code).toBe('validation_error');
    const text = await engine.request('POST', '/tasks', 'type=custom', { 'content-type': 'text/plain' });
    expect(text.status).toBe(400);
    expect(text.body.error.code).toBe('validation_error');
    const huge = await engine.request('POST', '/tasks', { type: 'custom', payload: { blob: 'x'.repeat(2 * 1024 * 1024) } });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('payload_too_large');
  });

  it('is idempotent with a client-chosen id, and 409 for a different task under it', async () => {
    const body = { type: 'custom', id: 'client-id-1', priority: 'LOW', payload: { n: 1 } };
    const first = await engine.request('POST', '/tasks', body);
    expect(first.status).toBe(201);
    const again = await engine.request('POST', '/tasks', { ...body, priority: 3 });
    expect(again.status).toBe(200);
    expect(again.body.task.id).toBe('client-id-1');
    const other = await engine.request('POST', '/tasks', { ...body, payload: { n: 2 } });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('conflict');
  });

  it('still recognises a repeat after the id claim expired before its task', async () => {
    const body = { type: 'custom', id: 'claim-expired-1', payload: { n: 1 } };
    expect((await engine.request('POST', '/tasks', body)).status).toBe(201);
    await engine.redis.del(`${engine.prefix}:id:claim-expired-1`);
    expect((await engine.request('POST', '/tasks', body)).status).toBe(200);
    await engine.redis.del(`${engine.prefix}:id:claim-expired-1`);
    const other = await engine.request('POST', '/tasks', { ...body, payload: { n: 2 } });
    expect(other.status).toBe(409);
  });

  it('creates one task from concurrent duplicates', async () => {
    const body = { type: 'custom', id: 'concurrent-1', payload: { n: 1 } };
    const results = await Promise.all(Array.from({ length: 8 }, () => engine.request('POST', '/tasks', body)));
    for (const res of results) expect([200, 201]).toContain(res.status);
    const list = await engine.request('GET', '/tasks?limit=1000');
    expect(list.body.tasks.filter((t: { id: string }) => t.id === 'concurrent-1')).toHaveLength(1);
  });

  it('makes delayed and scheduled tasks pending', async () => {
    const delayed = await engine.request('POST', '/tasks', { type: 'custom', delay_seconds: 60 });
    expect(delayed.status).toBe(201);
    expect(delayed.body.task.status).toBe('pending');
    expect(Date.parse(delayed.body.task.scheduled_at) - Date.parse(delayed.body.task.created_at)).toBe(60_000);
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await engine.request('POST', '/tasks', { type: 'custom', scheduled_at: at });
    expect(scheduled.body.task).toMatchObject({ status: 'pending', scheduled_at: at });
    expect((await engine.request('GET', `/tasks/${scheduled.body.task_id}`)).body.status).toBe('pending');
  });
});

describe('POST /tasks/batch', () => {
  it('creates every task in request order', async () => {
    const res = await engine.request('POST', '/tasks/batch', {
      tasks: [{ type: 'custom', name: 'a' }, { type: 'custom', name: 'b', delay_seconds: 30 }, { type: 'custom', name: 'c' }],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ success: true, count: 3 });
    expect(res.body.tasks.map((t: { status: string }) => t.status)).toEqual(['queued', 'pending', 'queued']);
    expect(res.body.task_ids).toEqual(res.body.tasks.map((t: { task_id: string }) => t.task_id));
    const names = await Promise.all(res.body.task_ids.map(async (id: string) => (await engine.request('GET', `/tasks/${id}`)).body.name));
    expect(names).toEqual(['a', 'b', 'c']);
  });

  it('is all or nothing: one bad task creates none and is named', async () => {
    const before = (await engine.request('GET', '/stats')).body.lifetime.created;
    const res = await engine.request('POST', '/tasks/batch', {
      tasks: [{ type: 'custom' }, { type: 'custom' }, { type: 'custom', config: { timeout_seconds: -1 } }, { type: 'custom', extra: 1 }],
    });
    expect(res.status).toBe(400);
    const paths = res.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['tasks[2].config.timeout_seconds', 'tasks[3].extra']));
    expect((await engine.request('GET', '/stats')).body.lifetime.created).toBe(before);
  });

  it('enforces the batch size and its own unknown fields', async () => {
    const tooMany = await engine.request('POST', '/tasks/batch', { tasks: Array.from({ length: 6 }, () => ({ type: 'custom' })) });
    expect(tooMany.status).toBe(400);
    const empty = await engine.request('POST', '/tasks/batch', { tasks: [] });
    expect(empty.status).toBe(400);
    const unknown = await engine.request('POST', '/tasks/batch', { tasks: [{ type: 'custom' }], ordered: true });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details).toContainEqual({ path: 'ordered', message: 'unknown field' });
    // parallel and max_concurrency are the envelope's own (section 7), checked by type.
    const parallel = await engine.request('POST', '/tasks/batch', { tasks: [{ type: 'custom' }], parallel: 'false' });
    expect(parallel.status).toBe(400);
    expect(parallel.body.error.details.map((d: { path: string }) => d.path)).toEqual(['parallel']);
  });
});

describe('GET /tasks', () => {
  it('pages newest first without repeats or gaps, with the true total', async () => {
    const local = await startEngine({ label: 'paging' });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const batch = await local.request('POST', '/tasks/batch', { tasks: Array.from({ length: 5 }, (_, j) => ({ type: 'custom', name: `t${i}-${j}` })) });
        ids.push(...batch.body.task_ids);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { status: number; body: any } = await local.request('GET', `/tasks?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status).toBe(200);
        expect(page.body.total).toBe(15);
        expect(page.body.count).toBe(page.body.tasks.length);
        seen.push(...page.body.tasks.map((t: { id: string }) => t.id));
        cursor = page.body.next_cursor;
      } while (cursor);
      expect(seen).toHaveLength(15);
      expect(new Set(seen)).toEqual(new Set(ids));
      // Newest batch first.
      expect(new Set(seen.slice(0, 5))).toEqual(new Set(ids.slice(10)));
    } finally {
      await local.stop();
    }
  });

  it('filters by status and type, and rejects bad filters', async () => {
    const res = await engine.request('GET', '/tasks?status=pending&task_type=custom');
    expect(res.status).toBe(200);
    expect(res.body.filters).toEqual({ status: 'pending', type: 'custom' });
    expect(res.body.tasks.length).toBeGreaterThan(0);
    for (const task of res.body.tasks) expect(task.status).toBe('pending');
    expect(res.body.total).toBe((await engine.request('GET', '/stats')).body.pending);
    expect((await engine.request('GET', '/tasks?status=bogus')).status).toBe(400);
    expect((await engine.request('GET', '/tasks?type=bogus')).status).toBe(400);
    expect((await engine.request('GET', '/tasks?limit=0')).status).toBe(400);
    expect((await engine.request('GET', '/tasks?limit=1001')).status).toBe(400);
    expect((await engine.request('GET', '/tasks?cursor=nonsense')).status).toBe(400);
  });
});

describe('lookups and cancel', () => {
  it('404s unknown tasks and routes with the error body', async () => {
    const res = await engine.request('GET', '/tasks/does-not-exist');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ success: false, error: { code: 'task_not_found', message: expect.any(String) } });
    expect((await engine.request('POST', '/tasks/does-not-exist/cancel')).status).toBe(404);
    const route = await engine.request('GET', '/nowhere');
    expect(route.status).toBe(404);
    expect(route.body.error.code).toBe('not_found');
  });

  it('cancels a queued task at once and refuses to cancel it twice', async () => {
    const created = await engine.request('POST', '/tasks', { type: 'custom' });
    const res = await engine.request('POST', `/tasks/${created.body.task_id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, task_id: created.body.task_id, status: 'cancelled', previous_status: 'queued' });
    const task = await waitForStatus(engine, created.body.task_id, 'cancelled');
    expect(task).toMatchObject({ error_code: 'cancelled' });
    expect(task.completed_at).not.toBeNull();
    const again = await engine.request('POST', `/tasks/${created.body.task_id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('task_not_cancellable');
  });

  it('cancels a pending task', async () => {
    const created = await engine.request('POST', '/tasks', { type: 'custom', delay_seconds: 100 });
    const res = await engine.request('POST', `/tasks/${created.body.task_id}/cancel`);
    expect(res.body).toMatchObject({ status: 'cancelled', previous_status: 'pending' });
  });
});

describe('GET /workers, /stats, /health, dashboard', () => {
  it('answers with the contract shapes', async () => {
    const workers = await engine.request('GET', '/workers');
    expect(workers.status).toBe(200);
    expect(workers.body).toEqual({ workers: [], total: 0, busy: 0 });
    const stats = await engine.request('GET', '/stats');
    expect(stats.status).toBe(200);
    for (const key of ['total_tasks', 'pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'timeout', 'by_type', 'by_priority',
      'avg_execution_time_ms', 'avg_wait_time_ms', 'success_rate', 'throughput', 'lifetime', 'workers', 'timestamp']) {
      expect(stats.body).toHaveProperty(key);
    }
    expect(Object.keys(stats.body.by_type).sort()).toEqual(['ai_inference', 'custom', 'data_processing', 'file_operation', 'network_request', 'system_command']);
    expect(Object.keys(stats.body.by_priority)).toEqual(['CRITICAL', 'HIGH', 'NORMAL', 'LOW', 'BACKGROUND']);
    const health = await engine.request('GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'healthy', node: '02', name: 'TaskEngine', redis: 'up', workers: 0 });
    expect(health.body.queue_size).toBe(stats.body.queued);
  });

  it('serves bull-board with every type\'s queue', async () => {
    const page = await fetch(`${engine.baseUrl}/admin/queues`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root">');
    const queues = await engine.request('GET', '/admin/queues/api/queues');
    expect(queues.status).toBe(200);
    const names = queues.body.queues.map((q: { name: string }) => q.name).sort();
    expect(names).toEqual(['{ai_inference}', '{custom}', '{data_processing}', '{file_operation}', '{network_request}', '{system_command}']);
  });
});
