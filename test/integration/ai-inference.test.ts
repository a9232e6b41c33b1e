// ai_inference end to end: real API, real in-process worker, real Redis, and a stand-in OneAPI on
// 127.0.0.1 that records each request and answers according to the model name it is asked for.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger, type TaskError } from '@taskengine/core';
import { aiInferenceTaskType } from '@taskengine/executors';
import { executorContext, failureOf } from '../support/executor-context.js';
import { createTask, startEngine, waitFor, waitForStatus, type Engine } from '../support/harness.js';
import { json, startStandIn, type RecordedRequest, type StandIn } from '../support/stand-in.js';

/** Recognisable, so a leak anywhere is easy to spot. */
const KEY = 'sk-test-SECRET-7f3a9c1e5b';
let engine: Engine;
let oneapi: StandIn;
const hits = new Map<string, number>();

function completion(model: string, content: string | null = 'Paris'): Record<string, unknown> {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    model: `${model}-0613`,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
  };
}

beforeAll(async () => {
  oneapi = await startStandIn((req, res, recorded) => {
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) return json(res, 404, { error: { message: 'no such route' } });
    const model = String(JSON.parse(recorded.body).model);
    const behaviour = model.split(':')[0];
    const hit = (hits.get(model) ?? 0) + 1;
    hits.set(model, hit);
    switch (behaviour) {
      case 'rate-limited-once':
        return hit === 1 ? json(res, 429, { error: { message: 'slow down' } }, { 'retry-after': '1' }) : json(res, 200, completion(model));
      case 'error-once':
        return hit === 1 ? json(res, 500, { error: { message: `boom, key was ${req.headers['x-api-key']}` } }) : json(res, 200, completion(model));
      case 'bad-request':
        return json(res, 400, { error: { message: `model ${model} does not exist`, type: 'invalid_request_error' } });
      case 'echo-headers':
        // Some gateways echo what they got, credentials included: none of it may reach the task.
        return json(res, 401, { error: { message: `invalid key ${req.headers['x-api-key']}`, headers: req.headers } });
      case 'html':
        return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>gateway</html>');
      case 'no-choices':
        return json(res, 200, { id: 'x', choices: [] });
      case 'hang':
        return;
      default:
        return json(res, 200, completion(model));
    }
  });
  engine = await startEngine({
    label: 'ai',
    overrides: { dependencies: { oneapi: { url: oneapi.origin, api_key: KEY, provider: 'cfg-provider', timeout: 10 } } },
    worker: { types: ['ai_inference'] },
  });
});

afterAll(async () => {
  await engine?.stop();
  await oneapi?.close();
});

const run = (payload: Record<string, unknown>, config: Record<string, unknown> = {}): Promise<any> =>
  createTask(engine, { type: 'ai_inference', payload, config: { max_retries: 3, retry_delay_seconds: 0.05, ...config } });

const requestsFor = (model: string): RecordedRequest[] => oneapi.requests.filter((r) => r.body.includes(`"model":"${model}"`));

/** Every way a client can read the task: none may contain the key. */
async function expectNoKey(id: string): Promise<void> {
  const one = await engine.request('GET', `/tasks/${id}`);
  const list = await engine.request('GET', '/tasks?type=ai_inference&limit=1000');
  expect(JSON.stringify(one.body)).not.toContain(KEY);
  expect(JSON.stringify(list.body)).not.toContain(KEY);
}

describe('completions', () => {
  it('sends a prompt to {url}/chat/completions with the configured provider and key', async () => {
    const model = `gpt-4:${randomUUID()}`;
    const task = await run({ model, prompt: 'What is the capital of France?', max_tokens: 50, temperature: 0.2, top_p: 0.9 });
    const done = await waitForStatus(engine, task.id, 'completed');
    expect(done.result).toEqual({
      model: `${model}-0613`,
      output: 'Paris',
      finish_reason: 'stop',
      usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
    });
    const [seen] = requestsFor(model);
    expect(seen).toMatchObject({ method: 'POST', url: '/chat/completions' });
    expect(JSON.parse(seen!.body)).toEqual({
      model,
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
      max_tokens: 50,
      temperature: 0.2,
      top_p: 0.9,
      stream: false,
    });
    expect(seen!.headers).toMatchObject({ 'x-provider': 'cfg-provider', 'x-api-key': KEY, authorization: `Bearer ${KEY}`, 'content-type': 'application/json' });
    await expectNoKey(task.id);
  });

  it('sends messages with the system message first, and the payload provider', async () => {
    const model = `claude:${randomUUID()}`;
    const messages = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'user', content: 'Capital of France?' },
    ];
    const task = await run({ model, messages, system: 'Answer in one word.', provider: 'anthropic' });
    await waitForStatus(engine, task.id, 'completed');
    const [seen] = requestsFor(model);
    expect(JSON.parse(seen!.body)).toEqual({ model, messages: [{ role: 'system', content: 'Answer in one word.' }, ...messages], stream: false });
    expect(seen!.headers['x-provider']).toBe('anthropic');
  });

  it('works with any OpenAI-compatible base URL, without key or provider headers when none is set', async () => {
    const executor = aiInferenceTaskType({ enabled: true, url: `${oneapi.origin}/v1/`, provider: null, timeout: 5, max_response_bytes: 1_000_000 });
    const model = `local:${randomUUID()}`;
    const result = await executor.execute({ model, prompt: 'hi' }, executorContext());
    expect(result).toMatchObject({ output: 'Paris' });
    const [seen] = requestsFor(model);
    expect(seen!.url).toBe('/v1/chat/completions');
    expect(seen!.headers).not.toHaveProperty('x-api-key');
    expect(seen!.headers).not.toHaveProperty('authorization');
    expect(seen!.headers).not.toHaveProperty('x-provider');
  });
});

describe('upstream failures', () => {
  it('retries a 429 and completes', async () => {
    const model = `rate-limited-once:${randomUUID()}`;
    const task = await run({ model, prompt: 'x' });
    const done = await waitForStatus(engine, task.id, 'completed');
    expect(done).toMatchObject({ retry_count: 1, result: { output: 'Paris' } });
    expect(requestsFor(model)).toHaveLength(2);
  });

  it('sets retryAfterMs from the 429 Retry-After (the worker waits that long)', async () => {
    const executor = aiInferenceTaskType(engine.config.dependencies.oneapi);
    const err = await failureOf<TaskError>(executor.execute({ model: `rate-limited-once:${randomUUID()}`, prompt: 'x' }, executorContext()));
    expect(err).toMatchObject({ code: 'upstream_error', retryable: true, retryAfterMs: 1000 });
    expect(err.message).toContain('429');
  });

  it('waits at least Retry-After before the retry of a 429', async () => {
    const model = `rate-limited-once:${randomUUID()}`;
    const task = await run({ model, prompt: 'x' }, { retry_delay_seconds: 0 });
    const done = await waitForStatus(engine, task.id, 'completed');
    expect(done.retry_count).toBe(1);
    expect(Date.parse(done.completed_at) - Date.parse(done.created_at)).toBeGreaterThanOrEqual(1000);
  });

  it('retries a 500 and completes; the error of the failed attempt never shows the key', async () => {
    const model = `error-once:${randomUUID()}`;
    const task = await run({ model, prompt: 'x' });
    const done = await waitForStatus(engine, task.id, 'completed');
    expect(done).toMatchObject({ retry_count: 1, result: { output: 'Paris' } });
    const err = await failureOf<TaskError>(aiInferenceTaskType(engine.config.dependencies.oneapi).execute({ model: `error-once:${randomUUID()}`, prompt: 'x' }, executorContext()));
    expect(err).toMatchObject({ code: 'upstream_error', retryable: true });
    expect(err.message).toContain('boom, key was [redacted]');
  });

  it('fails a 400 at once, with the upstream message', async () => {
    const model = `bad-request:${randomUUID()}`;
    const task = await run({ model, prompt: 'x' });
    const done = await waitForStatus(engine, task.id, 'failed');
    expect(done).toMatchObject({ error_code: 'upstream_error', retry_count: 0 });
    expect(done.error).toContain(`HTTP 400: model ${model} does not exist`);
    expect(requestsFor(model)).toHaveLength(1);
  });

  it('keeps the key out of the task when the upstream echoes it back', async () => {
    const model = `echo-headers:${randomUUID()}`;
    const task = await run({ model, prompt: 'x' });
    const done = await waitForStatus(engine, task.id, 'failed');
    expect(done).toMatchObject({ error_code: 'upstream_error', retry_count: 0 });
    expect(done.error).toContain('invalid key [redacted]');
    await expectNoKey(task.id);
  });

  it.each([
    ['html', 'not JSON'],
    ['no-choices', 'no choices'],
  ])('fails a malformed answer (%s) clearly, without retry', async (behaviour, why) => {
    const task = await run({ model: `${behaviour}:${randomUUID()}`, prompt: 'x' });
    const done = await waitForStatus(engine, task.id, 'failed');
    expect(done).toMatchObject({ error_code: 'invalid_upstream_response', retry_count: 0 });
    expect(done.error).toContain(why);
  });
});

describe('stopping a call', () => {
  it('the task timeout cuts a hung upstream and closes the connection', async () => {
    const model = `hang:${randomUUID()}`;
    const task = await run({ model, prompt: 'x' }, { timeout_seconds: 0.4, max_retries: 0 });
    expect(await waitForStatus(engine, task.id, 'timeout')).toMatchObject({ error_code: 'timeout' });
    await waitFor(() => requestsFor(model)[0]?.closedEarly, { what: 'the stand-in to see the connection closed' });
  });

  it('dependencies.oneapi.timeout cuts a hung upstream (request_timeout, retryable)', async () => {
    const executor = aiInferenceTaskType({ ...engine.config.dependencies.oneapi, timeout: 0.3 });
    const model = `hang:${randomUUID()}`;
    const err = await failureOf<TaskError>(executor.execute({ model, prompt: 'x' }, executorContext()));
    expect(err).toMatchObject({ code: 'request_timeout', retryable: true });
    await waitFor(() => requestsFor(model)[0]?.closedEarly, { what: 'the stand-in to see the connection closed' });
  });

  it('cancel stops a running call and closes the connection', async () => {
    const model = `hang:${randomUUID()}`;
    const task = await run({ model, prompt: 'x' });
    await waitFor(() => requestsFor(model).length === 1, { what: 'the call to arrive' });
    const res = await engine.request('POST', `/tasks/${task.id}/cancel`);
    expect(res.body).toMatchObject({ status: 'cancelled', previous_status: 'running' });
    await waitFor(() => requestsFor(model)[0]?.closedEarly, { what: 'the stand-in to see the connection closed' });
  });
});

describe('logs', () => {
  it('never contain the key, at debug level, through failures and retries', async () => {
    // A second engine whose logger is read: every formatted line the API and worker write.
    const logger = createLogger({ logging: { level: 'debug', format: 'json' } }, 'test');
    for (const transport of logger.transports) transport.silent = true;
    const lines: string[] = [];
    logger.on('data', (info: Record<symbol, string>) => lines.push(info[Symbol.for('message')]!));
    const logged = await startEngine({
      label: 'ai-logs',
      logger,
      overrides: { dependencies: { oneapi: { url: oneapi.origin, api_key: KEY, timeout: 10 } } },
      worker: { types: ['ai_inference'] },
    });
    try {
      const tasks = [];
      for (const behaviour of ['ok', 'error-once', 'echo-headers', 'bad-request']) {
        tasks.push(await createTask(logged, { type: 'ai_inference', payload: { model: `${behaviour}:${randomUUID()}`, prompt: 'x' }, config: { retry_delay_seconds: 0 } }));
      }
      for (const task of tasks) await waitForStatus(logged, task.id, ['completed', 'failed']);
      expect(lines.some((line) => line.includes('attempt failed'))).toBe(true);
      expect(lines.some((line) => line.includes('calling OneAPI'))).toBe(true);
      expect(lines.filter((line) => line.includes(KEY))).toEqual([]);
    } finally {
      await logged.stop();
    }
  });
});

describe('refused at creation (400)', () => {
  it.each([
    ['both prompt and messages', { model: 'm', prompt: 'x', messages: [{ role: 'user', content: 'x' }] }],
    ['neither prompt nor messages', { model: 'm' }],
    ['no model', { prompt: 'x' }],
    ['an unknown field', { model: 'm', prompt: 'x', base_url: 'http://169.254.169.254/' }],
    ['an unknown role', { model: 'm', messages: [{ role: 'wizard', content: 'x' }] }],
    ['a temperature out of range', { model: 'm', prompt: 'x', temperature: 3 }],
    ['a provider with a line break', { model: 'm', prompt: 'x', provider: 'a\r\nx-evil: 1' }],
  ])('%s', async (_name, payload) => {
    const res = await engine.request('POST', '/tasks', { type: 'ai_inference', payload });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.details[0].path).toMatch(/^payload/);
  });
});

describe('switched off', () => {
  it('refuses the type with 403 when dependencies.oneapi.enabled is false, and creates nothing', async () => {
    const off = await startEngine({ label: 'ai-off', overrides: { dependencies: { oneapi: { enabled: false }, state_machine: { enabled: false } } } });
    try {
      const res = await off.request('POST', '/tasks', { type: 'ai_inference', payload: { model: 'm', prompt: 'x' } });
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('dependencies.oneapi.enabled: false') });
      expect((await off.request('GET', '/tasks?task_type=ai_inference')).body.total).toBe(0);
    } finally {
      await off.stop();
    }
  });
});
