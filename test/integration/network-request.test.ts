// network_request end to end: real API, real in-process worker, real Redis, and a stand-in target on
// 127.0.0.1 that allowed_hosts names. (The address filter's refusals are in ssrf.test.ts.)
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { networkRequestTaskType } from '@taskengine/executors';
import type { TaskError } from '@taskengine/core';
import { executorContext, failureOf } from '../support/executor-context.js';
import { createTask, startEngine, waitFor, waitForStatus, type Engine } from '../support/harness.js';
import { json, startStandIn, streamBytes, type RecordedRequest, type StandIn } from '../support/stand-in.js';

const CAP = 64 * 1024;
const BIG = 32 * 1024 * 1024;
let engine: Engine;
let target: StandIn;
/** What the /big route managed to send before the client went away. */
const streamed = new Map<string, { written: number; finished: boolean }>();
/** Per-test counters for the routes that answer differently on later attempts. */
const hits = new Map<string, number>();

beforeAll(async () => {
  target = await startStandIn(async (req, res, recorded) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const id = url.searchParams.get('id') ?? '';
    const hit = (hits.get(id) ?? 0) + 1;
    hits.set(id, hit);
    switch (url.pathname) {
      case '/echo':
        return json(res, 200, { method: req.method, query: Object.fromEntries(url.searchParams), headers: req.headers, body: recorded.body });
      case '/problem':
        return json(res, 422, { title: 'nope' }, { 'content-type': 'application/problem+json' });
      case '/redirect':
        return void res.writeHead(302, { location: `/echo?id=${id}&from=redirect` }).end();
      case '/loop':
        return void res.writeHead(302, { location: `/loop?id=${id}` }).end();
      case '/to-file':
        return void res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      case '/binary':
        return void res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0x01]));
      case '/big':
        streamed.set(id, await streamBytes(res, BIG));
        return;
      case '/status':
        return json(res, Number(url.searchParams.get('code')), { attempt: hit }, { 'retry-after': url.searchParams.get('retry_after') ?? '0' });
      case '/flaky':
        return hit === 1 ? json(res, 503, { busy: true }, { 'retry-after': '1' }) : json(res, 200, { attempt: hit });
      case '/hang':
        return; // never answers: the client must give up and close
      default:
        return json(res, 404, { path: url.pathname });
    }
  });
  engine = await startEngine({
    label: 'netreq',
    overrides: {
      executors: { network_request: { allowed_hosts: [`127.0.0.1:${target.port}`], max_response_bytes: CAP, max_redirects: 3 } },
    },
    worker: { types: ['network_request'] },
  });
});

afterAll(async () => {
  await engine?.stop();
  await target?.close();
});

function run(payload: Record<string, unknown>, config: Record<string, unknown> = {}): Promise<any> {
  return createTask(engine, { type: 'network_request', payload, config: { max_retries: 3, retry_delay_seconds: 0.05, ...config } });
}

const requestsFor = (id: string): RecordedRequest[] => target.requests.filter((r) => r.url.includes(`id=${id}`));

describe('requests', () => {
  it('sends GET with headers and params, and parses the JSON answer', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/echo?id=${id}`, headers: { 'X-Trace': 'abc', Accept: 'application/json' }, params: { q: 'a b', n: 2, tag: ['x', 'y'] } });
    const done = await waitForStatus(engine, task.id, 'completed');
    const result = done.result;
    expect(result).toMatchObject({ status_code: 200, truncated: false, body_encoding: 'utf8', redirect_count: 0 });
    expect(result.url).toBe(`${target.origin}/echo?id=${id}&q=a+b&n=2&tag=x&tag=y`);
    expect(result.json).toMatchObject({ method: 'GET', query: { id, q: 'a b', n: '2', tag: 'y' }, headers: { 'x-trace': 'abc' } });
    expect(JSON.parse(result.body)).toEqual(result.json);
    expect(result.headers['content-type']).toBe('application/json');
    expect(typeof result.elapsed_ms).toBe('number');
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE'])('sends %s with a JSON body from data', async (method) => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/echo?id=${id}`, method: method.toLowerCase(), data: { n: 1, list: [true, null] } });
    const done = await waitForStatus(engine, task.id, 'completed');
    const [seen] = requestsFor(id);
    expect(seen).toMatchObject({ method, body: '{"n":1,"list":[true,null]}' });
    expect(seen!.headers['content-type']).toBe('application/json');
    expect(done.result.json.method).toBe(method);
  });

  it.each([[null], [[1, 'a']], ['text'], [0], [false]])('sends any JSON value as data: %j', async (data) => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/echo?id=${id}`, method: 'POST', data });
    await waitForStatus(engine, task.id, 'completed');
    expect(requestsFor(id)[0]!.body).toBe(JSON.stringify(data));
  });

  it('sends a string body as given', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/echo?id=${id}`, method: 'POST', body: 'a=1&b=2', headers: { 'content-type': 'text/plain' } });
    await waitForStatus(engine, task.id, 'completed');
    expect(requestsFor(id)[0]).toMatchObject({ method: 'POST', body: 'a=1&b=2', headers: expect.objectContaining({ 'content-type': 'text/plain' }) });
  });

  it('sends HEAD and returns an empty body', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/echo?id=${id}`, method: 'HEAD' });
    const done = await waitForStatus(engine, task.id, 'completed');
    expect(done.result).toMatchObject({ status_code: 200, body: '', truncated: false });
    expect(requestsFor(id)[0]!.method).toBe('HEAD');
  });
});

describe('responses', () => {
  it('follows a redirect and reports the final URL', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/redirect?id=${id}` });
    const done = await waitForStatus(engine, task.id, 'completed');
    expect(done.result).toMatchObject({ status_code: 200, url: `${target.origin}/echo?id=${id}&from=redirect`, redirect_count: 1 });
  });

  it('returns the redirect itself when follow_redirects is false', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/redirect?id=${id}`, follow_redirects: false });
    const done = await waitForStatus(engine, task.id, 'completed');
    expect(done.result).toMatchObject({ status_code: 302, headers: { location: `/echo?id=${id}&from=redirect` } });
    expect(requestsFor(id)).toHaveLength(1);
  });

  it('stops at max_redirects', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/loop?id=${id}` });
    const done = await waitForStatus(engine, task.id, 'failed');
    expect(done).toMatchObject({ error_code: 'too_many_redirects', retry_count: 0 });
    expect(requestsFor(id)).toHaveLength(4); // the request and 3 redirects
  });

  it('refuses a redirect to a non-http scheme', async () => {
    const task = await run({ url: `${target.origin}/to-file?id=${randomUUID()}` });
    expect(await waitForStatus(engine, task.id, 'failed')).toMatchObject({ error_code: 'unsupported_redirect', retry_count: 0 });
  });

  it('stops the download at max_response_bytes and marks the body truncated', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/big?id=${id}` });
    const done = await waitForStatus(engine, task.id, 'completed');
    expect(done.result).toMatchObject({ status_code: 200, truncated: true, body_encoding: 'utf8' });
    expect(done.result.body).toHaveLength(CAP);
    expect(done.result.json).toBeUndefined();
    // The stand-in saw the client leave long before it had written everything.
    const sent = await waitFor(() => streamed.get(id), { what: 'the stand-in to stop streaming' });
    expect(sent.finished).toBe(false);
    expect(sent.written).toBeLessThan(BIG / 2);
    expect(requestsFor(id)[0]!.closedEarly).toBe(true);
  });

  it('returns a binary body as base64', async () => {
    const task = await run({ url: `${target.origin}/binary?id=${randomUUID()}` });
    const done = await waitForStatus(engine, task.id, 'completed');
    expect(done.result).toMatchObject({ body_encoding: 'base64', truncated: false });
    expect(Buffer.from(done.result.body, 'base64')).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0x01]));
  });

  it('accepts a status listed in expect_status, and parses +json bodies', async () => {
    const task = await run({ url: `${target.origin}/problem?id=${randomUUID()}`, expect_status: [422] });
    const done = await waitForStatus(engine, task.id, 'completed');
    expect(done.result).toMatchObject({ status_code: 422, json: { title: 'nope' } });
  });

  it('fails a status outside expect_status, keeping the response', async () => {
    const task = await run({ url: `${target.origin}/echo?id=${randomUUID()}`, expect_status: [201] });
    const done = await waitForStatus(engine, task.id, 'failed');
    expect(done).toMatchObject({ error_code: 'http_status', retry_count: 0, result: { status_code: 200 } });
  });
});

describe('failures and retries', () => {
  it('fails a 404 at once with http_status, keeping status and body', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/status?code=404&id=${id}` });
    const done = await waitForStatus(engine, task.id, 'failed');
    expect(done).toMatchObject({ error_code: 'http_status', retry_count: 0, result: { status_code: 404, json: { attempt: 1 } } });
    expect(done.error).toContain('404');
    expect(requestsFor(id)).toHaveLength(1);
  });

  it('retries a 503 and completes when the target recovers', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/flaky?id=${id}` });
    const done = await waitForStatus(engine, task.id, 'completed');
    expect(done).toMatchObject({ retry_count: 1, result: { status_code: 200, json: { attempt: 2 } } });
  });

  it('ends failed with http_status after the last 5xx attempt', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/status?code=500&id=${id}` }, { max_retries: 1 });
    const done = await waitForStatus(engine, task.id, 'failed');
    expect(done).toMatchObject({ error_code: 'http_status', retry_count: 1, result: { status_code: 500, json: { attempt: 2 } } });
  });

  it('payload timeout_seconds cuts a hung request (request_timeout) and closes the connection', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/hang?id=${id}`, timeout_seconds: 0.3 }, { max_retries: 0 });
    const done = await waitForStatus(engine, task.id, 'failed');
    expect(done).toMatchObject({ error_code: 'request_timeout', retry_count: 0 });
    await waitFor(() => requestsFor(id)[0]?.closedEarly, { what: 'the stand-in to see the connection closed' });
  });

  it('the task timeout aborts a hung request and closes the connection', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/hang?id=${id}` }, { timeout_seconds: 0.4, max_retries: 0 });
    expect(await waitForStatus(engine, task.id, 'timeout')).toMatchObject({ error_code: 'timeout' });
    await waitFor(() => requestsFor(id)[0]?.closedEarly, { what: 'the stand-in to see the connection closed' });
  });

  it('cancel aborts the running request and closes the connection', async () => {
    const id = randomUUID();
    const task = await run({ url: `${target.origin}/hang?id=${id}` });
    await waitFor(() => requestsFor(id).length === 1, { what: 'the request to arrive' });
    const res = await engine.request('POST', `/tasks/${task.id}/cancel`);
    expect(res.body).toMatchObject({ status: 'cancelled', previous_status: 'running' });
    await waitFor(() => requestsFor(id)[0]?.closedEarly, { what: 'the stand-in to see the connection closed' });
    expect(requestsFor(id)).toHaveLength(1);
  });

  it('sets retryAfterMs from Retry-After, in seconds or as an HTTP date', async () => {
    // The worker turns retryAfterMs into the retry's delay; here the executor alone is checked.
    const executor = networkRequestTaskType(engine.config.executors.network_request);
    const failure = (url: string): Promise<TaskError> => failureOf<TaskError>(executor.execute({ url }, executorContext()));
    expect(await failure(`${target.origin}/flaky?id=${randomUUID()}`)).toMatchObject({ code: 'http_status', retryable: true, retryAfterMs: 1000 });
    const date = new Date(Date.now() + 30_000).toUTCString();
    const dated = await failure(`${target.origin}/status?code=429&retry_after=${encodeURIComponent(date)}&id=${randomUUID()}`);
    expect(dated).toMatchObject({ code: 'http_status', retryable: true });
    expect(dated.retryAfterMs).toBeGreaterThan(27_000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(30_000);
    expect(await failure(`${target.origin}/status?code=404&retry_after=5&id=${randomUUID()}`)).toMatchObject({ retryable: false, retryAfterMs: undefined });
  });
});

describe('proxies', () => {
  it('ignores HTTP_PROXY and friends: a proxy would dial on our behalf, past the address filter', async () => {
    const proxy = await startStandIn();
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, http_proxy: process.env.http_proxy, NO_PROXY: process.env.NO_PROXY };
    Object.assign(process.env, { HTTP_PROXY: proxy.origin, http_proxy: proxy.origin, NO_PROXY: '' });
    try {
      const executor = networkRequestTaskType(engine.config.executors.network_request);
      const id = randomUUID();
      const result = await executor.execute({ url: `${target.origin}/echo?id=${id}` }, executorContext());
      expect(result).toMatchObject({ status_code: 200 });
      expect(requestsFor(id)).toHaveLength(1);
      expect(proxy.connections).toBe(0);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await proxy.close();
    }
  });
});

describe('refused at creation (400)', () => {
  it.each([
    ['no url', {}],
    ['a relative url', { url: '/echo' }],
    ['a url that is not one', { url: 'http://exa mple.com/' }],
    ['an ftp: url', { url: 'ftp://example.com/' }],
    ['data and body together', { url: 'http://example.com/', method: 'POST', data: {}, body: 'x' }],
    ['a GET with a body', { url: 'http://example.com/', body: 'x' }],
    ['an unknown method', { url: 'http://example.com/', method: 'TRACE' }],
    ['CR/LF in a header value', { url: 'http://example.com/', headers: { 'X-A': 'a\r\nInjected: 1' } }],
    ['a header name that is not a token', { url: 'http://example.com/', headers: { 'X A': 'a' } }],
    ['a Host header', { url: 'http://example.com/', headers: { Host: 'internal' } }],
    ['a hop-by-hop header', { url: 'http://example.com/', headers: { 'Transfer-Encoding': 'chunked' } }],
    ['an unknown field', { url: 'http://example.com/', base_url: 'x' }],
    ['an empty expect_status', { url: 'http://example.com/', expect_status: [] }],
  ])('%s', async (_name, payload) => {
    const res = await engine.request('POST', '/tasks', { type: 'network_request', payload });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.details[0].path).toMatch(/^payload/);
  });
});
