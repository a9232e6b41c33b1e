// /metrics: Prometheus text that a real parser reads, task figures that match what happened and are
// the same on every API replica, histograms of execution and wait time, and HTTP request timings.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTask, startEngine, waitFor, waitForStatus, type Engine } from '../support/harness.js';
import { parsePrometheusText, type PrometheusFamily } from '../support/prometheus.js';

let engine: Engine;
let replica: Engine;

interface Scrape {
  families: Map<string, PrometheusFamily>;
  /** The value of the one sample named `name` whose labels include `labels`. */
  value(name: string, labels?: Record<string, string>): number;
  /** Every sample named `name`. */
  all(name: string): Array<{ labels: Record<string, string>; value: number }>;
}

async function scrape(target: Engine): Promise<Scrape> {
  const res = await fetch(`${target.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const parsed = await parsePrometheusText(await res.text());
  const all = (name: string) => parsed.flatMap((family) => family.samples).filter((s) => s.name === name);
  return {
    families: new Map(parsed.map((family) => [family.name, family])),
    all,
    value(name, labels = {}) {
      const found = all(name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      if (found.length !== 1) throw new Error(`${found.length} samples ${name} with ${JSON.stringify(labels)}`);
      return found[0]!.value;
    },
  };
}

beforeAll(async () => {
  engine = await startEngine({ label: 'metrics', worker: { concurrency: 4 } });
  replica = await startEngine({ prefix: engine.prefix });
  const finished: Array<[string, string]> = [];
  for (let i = 0; i < 2; i++) finished.push([(await createTask(engine, { priority: 'NORMAL' })).id, 'completed']);
  finished.push([(await createTask(engine, { priority: 'HIGH' })).id, 'completed']);
  finished.push([(await createTask(engine, { payload: { handler: 'fail' }, config: { max_retries: 1, retry_delay_seconds: 0.05 } })).id, 'failed']);
  finished.push([(await createTask(engine, { payload: { handler: 'sleep', duration_ms: 5000 }, config: { timeout_seconds: 0.2, max_retries: 0 } })).id, 'timeout']);
  const waiting = await createTask(engine, { priority: 'LOW', delay_seconds: 600 });
  expect((await engine.request('POST', `/tasks/${waiting.id}/cancel`)).body.status).toBe('cancelled');
  await createTask(engine, { priority: 'BACKGROUND', delay_seconds: 600 });
  for (const [id, status] of finished) await waitForStatus(engine, id, status);
  await waitFor(async () => {
    // Workers flush counters in batches: wait for every outcome they record.
    const { completed, failed, timeout } = (await engine.request('GET', '/stats')).body.lifetime;
    return completed === 3 && failed === 1 && timeout === 1;
  }, { what: 'counters flushed' });
});
afterAll(async () => {
  await replica.stop();
  await engine.stop();
});

describe('GET /metrics', () => {
  it('counts created and finished tasks by type, priority and status', async () => {
    const m = await scrape(engine);
    expect(m.families.get('taskengine_tasks_created')?.type).toBe('counter');
    const created = (priority: string, type = 'custom') => m.value('taskengine_tasks_created_total', { type, priority });
    expect([created('NORMAL'), created('HIGH'), created('LOW'), created('BACKGROUND'), created('NORMAL', 'ai_inference')]).toEqual([4, 1, 1, 1, 0]);
    const finished = (priority: string, status: string) => m.value('taskengine_tasks_finished_total', { type: 'custom', priority, status });
    expect(finished('NORMAL', 'completed')).toBe(2);
    expect(finished('HIGH', 'completed')).toBe(1);
    expect(finished('NORMAL', 'failed')).toBe(1);
    expect(finished('NORMAL', 'timeout')).toBe(1);
    expect(finished('LOW', 'cancelled')).toBe(1);
    expect(m.value('taskengine_task_retries_total', { type: 'custom' })).toBe(1);
  });

  it('reports queue depth by status and live workers', async () => {
    const m = await scrape(engine);
    expect(m.families.get('taskengine_queue_depth')?.type).toBe('gauge');
    const depth = (status: string) => m.value('taskengine_queue_depth', { type: 'custom', status });
    expect([depth('pending'), depth('queued'), depth('completed'), depth('failed'), depth('cancelled'), depth('timeout')]).toEqual([1, 0, 3, 1, 1, 1]);
    expect(m.value('taskengine_workers', { status: 'idle' }) + m.value('taskengine_workers', { status: 'busy' })).toBe(1);
  });

  it('has execution and wait time histograms with cumulative buckets', async () => {
    const m = await scrape(engine);
    expect(m.families.get('taskengine_task_duration_seconds')?.type).toBe('histogram');
    expect(m.families.get('taskengine_task_wait_seconds')?.type).toBe('histogram');
    // Every task a worker finished: 3 completed, 1 failed, 1 timed out.
    expect(m.value('taskengine_task_duration_seconds_count', { type: 'custom' })).toBe(5);
    const buckets = m.all('taskengine_task_duration_seconds_bucket').filter((s) => s.labels.type === 'custom');
    const counts = buckets.map((s) => s.value);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(buckets.at(-1)).toEqual({ name: 'taskengine_task_duration_seconds_bucket', labels: { type: 'custom', le: '+Inf' }, value: 5 });
    // The timed-out attempt ran about 0.2 s: one observation above 0.1 s.
    expect(m.value('taskengine_task_duration_seconds_bucket', { type: 'custom', le: '0.1' })).toBeLessThan(5);
    expect(m.value('taskengine_task_duration_seconds_sum', { type: 'custom' })).toBeGreaterThan(0.15);
    expect(m.value('taskengine_task_wait_seconds_count', { type: 'custom' })).toBe(5);
  });

  it('serves the same task figures from every API replica', async () => {
    const [a, b] = [await scrape(engine), await scrape(replica)];
    for (const name of ['taskengine_tasks_created', 'taskengine_tasks_finished', 'taskengine_queue_depth', 'taskengine_task_duration_seconds']) {
      expect(b.families.get(name)).toEqual(a.families.get(name));
    }
  });

  it('times API requests by route pattern, never by raw path', async () => {
    const task = await createTask(engine, {});
    await engine.request('GET', `/tasks/${task.id}`);
    const m = await scrape(engine);
    const http = m.all('taskengine_http_request_duration_seconds_count');
    expect(http.find((s) => s.labels.route === '/tasks/:id' && s.labels.method === 'GET')?.labels.status_code).toBe('200');
    expect(http.some((s) => s.labels.route?.includes(task.id))).toBe(false);
  });
});
