// dashboard.read_only false: bull-board may pause/resume queues and promote delayed tasks, the
// actions the engine's books survive; every other action (add, retry, clean, remove, empty, edit…)
// answers 403 and changes nothing. Over real HTTP on a real Redis (the page itself: test/browser).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TASK_TYPES } from '@taskengine/core';
import { createTask, startEngine, waitForStatus, type Engine } from '../support/harness.js';

const API = '/admin/queues/api/queues';
const CUSTOM = `${API}/%7Bcustom%7D`;

let engine: Engine;

beforeAll(async () => {
  engine = await startEngine({ label: 'dash-actions', overrides: { dashboard: { read_only: false } } });
});
afterAll(async () => {
  await engine.stop();
});

describe('dashboard with read_only false', () => {
  it('tells the page its queues are writable but offers no retries', async () => {
    const res = await engine.request('GET', API);
    expect(res.status).toBe(200);
    expect(res.body.queues).toHaveLength(TASK_TYPES.length);
    for (const queue of res.body.queues) expect(queue).toMatchObject({ readOnlyMode: false, allowRetries: false });
  });

  it('promotes a delayed task, which the API then reports queued', async () => {
    const task = await createTask(engine, { delay_seconds: 600 });
    expect(task.status).toBe('pending');
    const res = await engine.request('PUT', `${CUSTOM}/${task.id}/promote`);
    expect(res.status).toBeLessThan(300);
    await waitForStatus(engine, task.id, 'queued');
  });

  it('pauses and resumes a queue', async () => {
    expect((await engine.request('PUT', `${CUSTOM}/pause`)).status).toBeLessThan(300);
    expect(await engine.store.queues.custom.isPaused()).toBe(true);
    const task = await createTask(engine, {});
    expect((await engine.request('GET', `/tasks/${task.id}`)).body.status).toBe('queued');
    expect((await engine.request('PUT', `${CUSTOM}/resume`)).status).toBeLessThan(300);
    expect(await engine.store.queues.custom.isPaused()).toBe(false);
  });

  it('refuses every action that would bypass the engine, and changes nothing', async () => {
    const task = await createTask(engine, { delay_seconds: 600, name: 'keep-me' });
    const before = await engine.request('GET', '/stats');
    const refused: Array<[string, string, unknown?]> = [
      ['POST', `${CUSTOM}/add`, { name: 'sneaky', data: {} }],
      ['PUT', `${CUSTOM}/${task.id}/clean`],
      ['PUT', `${CUSTOM}/clean/delayed`],
      ['PUT', `${CUSTOM}/retry/failed`],
      ['PUT', `${CUSTOM}/${task.id}/retry`],
      ['PUT', `${CUSTOM}/empty`],
      ['PUT', `${CUSTOM}/obliterate`, {}],
      ['PATCH', `${CUSTOM}/${task.id}/update-data`, { data: { payload: { evil: true } } }],
      ['PATCH', `${CUSTOM}/${task.id}/priority`, { priority: 1 }],
      ['PATCH', `${CUSTOM}/${task.id}/delay`, { delay: 1 }],
      ['PUT', `${CUSTOM}/concurrency`, { concurrency: 1 }],
    ];
    for (const [method, path, body] of refused) {
      const res = await engine.request(method, path, body);
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
      expect(JSON.stringify(res.body)).toContain('change tasks through the API');
    }
    const after = await engine.request('GET', `/tasks/${task.id}`);
    expect(after.body).toMatchObject({ status: 'pending', name: 'keep-me', payload: {} });
    expect((await engine.request('GET', '/stats')).body.total_tasks).toBe(before.body.total_tasks);
  });
});
