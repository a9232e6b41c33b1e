// Bad input a client can send on purpose or by mistake (issue 6, "Bad input"), case by case, over real
// HTTP on a real Redis with the API in-process: bodies over the limit, JSON nested 10,000 levels deep,
// prototype keys, wrong Content-Types and encodings, invalid UTF-8, Content-Length that lies, huge
// strings in every field, and a batch of 10,000 tasks. Each is refused with a 4xx and the contract's
// error body, or accepted within its limits; none creates a task by mistake, crashes the process or
// pollutes Object.prototype. (api-fuzz.test.ts covers the same ground with generated cases.)
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import { checkError, checkNoServerError } from '../support/contract-checks.js';
import { startEngine, waitForStatus, type Engine } from '../support/harness.js';
import { rawJson, rawRequest, type RawResponse } from '../support/raw-http.js';

/** config.yaml's values, which these tests run with (checked in beforeAll). */
const BODY_LIMIT = 1024 * 1024;
const MAX_BATCH = 1000;
const MAX_DEPTH = 100;

let engine: Engine;
const prototypeKeys = Object.getOwnPropertyNames(Object.prototype);

beforeAll(async () => {
  // The worker runs in this process too, so a pollution by an executor would show here as well.
  engine = await startEngine({ label: 'bad-input', worker: { types: ['custom', 'data_processing'] } });
  expect(engine.config.server.body_limit).toBe('1mb');
  expect(engine.config.tasks.max_batch_size).toBe(MAX_BATCH);
});
afterAll(async () => {
  await engine?.stop();
});

const send = (method: string, path: string, body?: unknown, headers: Array<[string, string]> = []): Promise<RawResponse> =>
  rawJson(engine.baseUrl, method, path, body, headers);

async function created(): Promise<number> {
  return (await send('GET', '/stats')).body.lifetime.created as number;
}

/** Sends, then checks the answer and that /stats counts no new task. */
async function refused(request: () => Promise<RawResponse>, expected: Parameters<typeof checkError>[1], what: string): Promise<RawResponse> {
  const before = await created();
  const res = await request();
  checkError(res, expected, what);
  expect({ what, created: (await created()) - before }).toEqual({ what, created: 0 });
  return res;
}

function expectUnpolluted(): void {
  expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(prototypeKeys);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
}

/** JSON text of `levels` objects inside each other: {"a":{"a":…1…}}. */
const nestedObjects = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
const nestedArrays = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);

describe('bodies over server.body_limit', () => {
  it('answers 413 payload_too_large on every route that reads a body, and creates nothing', async () => {
    const blob = 'x'.repeat(BODY_LIMIT);
    for (const [path, body] of [
      ['/tasks', { type: 'custom', payload: { blob } }],
      ['/tasks/batch', { tasks: [{ type: 'custom', payload: { blob } }] }],
      ['/tasks/known/cancel', { blob }],
    ] as const) {
      const res = await refused(() => send('POST', path, body), { status: 413, code: 'payload_too_large' }, `POST ${path} 1 MiB+`);
      expect(res.body.error.message).toMatch(/server\.body_limit/);
    }
  });

  it('accepts a task just under the limit', async () => {
    const overhead = JSON.stringify({ type: 'custom', payload: { blob: '' } }).length;
    const res = await send('POST', '/tasks', { type: 'custom', payload: { blob: 'x'.repeat(BODY_LIMIT - overhead) } });
    expect(res.status).toBe(201);
  });

  it('counts the inflated size of a compressed body (a gzip bomb is a 413, not 10 MB in memory)', async () => {
    const bomb = gzipSync(Buffer.from(JSON.stringify({ type: 'custom', payload: { blob: '0'.repeat(10 * BODY_LIMIT) } })));
    expect(bomb.length).toBeLessThan(BODY_LIMIT / 10);
    await refused(
      () => rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'gzip']], body: bomb }),
      { status: 413, code: 'payload_too_large' },
      'gzip bomb',
    );
    // A small compressed body is read like any other.
    const small = gzipSync(Buffer.from(JSON.stringify({ type: 'custom', name: 'gzipped' })));
    const ok = await rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'gzip']], body: small });
    expect(ok.status).toBe(201);
    expect(ok.body.task.name).toBe('gzipped');
  });

  it('refuses a chunked body that grows past the limit, with no Content-Length to go by', async () => {
    const chunk = `{"type":"custom","payload":{"blob":"${'x'.repeat(BODY_LIMIT)}"}}`;
    const body = `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`;
    await refused(
      () => rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: [['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked']], body, contentLength: null }),
      { status: 413, code: 'payload_too_large' },
      'chunked 1 MiB+',
    );
  });

  it('answers a declared Content-Length over the limit once the client stops sending, without waiting for the rest', async () => {
    await refused(
      () => rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: [['Content-Type', 'application/json']], body: '{"type":', contentLength: 50 * BODY_LIMIT, halfClose: true }),
      { status: [400, 413] },
      'Content-Length 50 MiB, 8 bytes sent',
    );
  });
});

describe('deeply nested JSON', () => {
  it('refuses 10,000 levels anywhere in a body with a 400 that names where, and stays up', async () => {
    const deep = nestedObjects(10_000);
    const cases: Array<[string, string, string]> = [
      ['/tasks', `{"type":"custom","payload":${deep}}`, 'payload'],
      ['/tasks', `{"type":"custom","metadata":${deep}}`, 'metadata'],
      ['/tasks', `{"type":"custom","id":"deep-1","payload":{"x":${deep}}}`, 'payload.x'],
      ['/tasks', `{"type":"custom","payload":{"x":${nestedArrays(10_000)}}}`, 'payload.x'],
      ['/tasks', `{"type":"data_processing","payload":{"items":[${deep}]}}`, 'payload.items[0]'],
      ['/tasks', `{"type":"network_request","payload":{"url":"http://example.com","method":"POST","data":${deep}}}`, 'payload.data'],
      ['/tasks', `{"type":${deep}}`, 'type'],
      ['/tasks/batch', `{"tasks":[{"type":"custom"},{"type":"custom","payload":${deep}}]}`, 'tasks[1].payload'],
      ['/tasks', `{"type":"custom","payload":{"x":${nestedArrays(200_000)}}}`, 'payload.x'],
    ];
    for (const [path, body, where] of cases) {
      const res = await refused(() => send('POST', path, body), { status: 400, code: 'validation_error', path: where }, `POST ${path} ${body.slice(0, 80)}`);
      expect(res.body.error.message).toMatch(`nests deeper than ${MAX_DEPTH} levels`);
    }
    expect((await send('GET', '/health')).body.status).toBe('healthy');
  });

  it('refuses a body nested deeper than any task could be, even when it is not a task', async () => {
    for (const body of [nestedArrays(100_000), nestedObjects(100_000)]) {
      const res = await refused(() => send('POST', '/tasks', body), { status: 400 }, `POST /tasks ${body.slice(0, 20)}…`);
      checkNoServerError(res, 'deep');
    }
  });

  it(`accepts ${MAX_DEPTH} levels (the body itself is the first) and stores them as sent`, async () => {
    // The body is level 1, the payload object level 2, the innermost of its 98 nested objects level 100.
    const payload = JSON.parse(nestedObjects(99));
    const res = await send('POST', '/tasks', { type: 'custom', payload });
    expect(res.status).toBe(201);
    expect((await send('GET', `/tasks/${res.body.task_id}`)).body.payload).toEqual(payload);
    await refused(() => send('POST', '/tasks', { type: 'custom', payload: JSON.parse(nestedObjects(100)) }), { status: 400, code: 'validation_error' }, '101 levels');
  });
});

describe('prototype keys', () => {
  it('refuses __proto__ as a key anywhere in a body, naming it, and pollutes nothing', async () => {
    const cases: Array<[string, string, string]> = [
      ['/tasks', '{"type":"custom","__proto__":{"polluted":"yes"}}', '__proto__'],
      ['/tasks', '{"type":"custom","config":{"__proto__":{"polluted":"yes"}}}', 'config.__proto__'],
      ['/tasks', '{"type":"custom","payload":{"__proto__":{"polluted":"yes"}}}', 'payload.__proto__'],
      ['/tasks', '{"type":"custom","metadata":{"__proto__":{"polluted":"yes"}}}', 'metadata.__proto__'],
      ['/tasks', '{"type":"custom","payload":{"a":[{"b":{"__proto__":{"polluted":"yes"}}}]}}', 'payload.a[0].b.__proto__'],
      // The same key spelled with JSON escapes is the same key once parsed.
      ['/tasks', '{"type":"custom","payload":{"\\u005f\\u005fproto\\u005f\\u005f":{"polluted":"yes"}}}', 'payload.__proto__'],
      ['/tasks', '{"type":"data_processing","payload":{"items":[{"__proto__":{"polluted":"yes"}}]}}', 'payload.items[0].__proto__'],
      ['/tasks/batch', '{"tasks":[{"type":"custom","metadata":{"__proto__":{"polluted":"yes"}}}]}', 'tasks[0].metadata.__proto__'],
      ['/tasks/batch', '{"__proto__":{"polluted":"yes"},"tasks":[{"type":"custom"}]}', '__proto__'],
    ];
    for (const [path, body, where] of cases) {
      const res = await refused(() => send('POST', path, body), { status: 400, code: 'validation_error', path: where }, `POST ${path} ${body}`);
      expect(res.body.error.message).toMatch(/__proto__/);
    }
    expectUnpolluted();
  });

  it('keeps constructor, prototype and other Object.prototype names as plain data, through the worker too', async () => {
    const tricky = {
      constructor: { prototype: { polluted: 'yes' } },
      prototype: { polluted: 'yes' },
      toString: 'not a function',
      hasOwnProperty: 1,
      valueOf: null,
      isPrototypeOf: [],
    };
    const res = await send('POST', '/tasks', { type: 'custom', name: '__proto__', payload: tricky, metadata: tricky });
    expect(res.status).toBe(201);
    const task = await waitForStatus(engine, res.body.task_id, 'completed');
    expect(task).toMatchObject({ name: '__proto__', payload: tricky, metadata: tricky, result: { payload_received: tricky } });
    expectUnpolluted();
  });

  it('runs a data pipeline over rows with such keys without touching any prototype', async () => {
    const items: Array<Record<string, unknown>> = [
      { constructor: { prototype: { polluted: 'yes' } }, prototype: 'p', k: 'a', n: 1 },
      { constructor: 'c', toString: 'x', k: 'a', n: 2 },
    ];
    const res = await send('POST', '/tasks', {
      type: 'data_processing',
      payload: { items, operations: [{ op: 'group_by', by: 'k', aggregations: { total: { fn: 'sum', field: 'n' } } }] },
    });
    expect(res.status).toBe(201);
    const task = await waitForStatus(engine, res.body.task_id, 'completed');
    expect(task.result.items).toEqual([{ k: 'a', total: 3 }]);
    expectUnpolluted();
  });

  it('takes ids and query parameters named like prototype members as plain strings', async () => {
    for (const id of ['__proto__', 'constructor', 'hasOwnProperty']) {
      const res = await send('POST', '/tasks', { type: 'custom', id });
      expect({ id, status: res.status }).toEqual({ id, status: 201 });
      const read = await send('GET', `/tasks/${id}`);
      expect({ id, status: read.status, read: read.body.id }).toEqual({ id, status: 200, read: id });
    }
    expect((await send('GET', '/tasks/toString')).status).toBe(404);
    for (const query of ['__proto__[polluted]=yes', '__proto__.polluted=yes', 'constructor[prototype][polluted]=yes', '__proto__=yes&limit=1']) {
      const res = await send('GET', `/tasks?${query}`);
      expect({ query, status: res.status }).toEqual({ query, status: 200 });
    }
    expectUnpolluted();
  });
});

describe('Content-Type and encodings', () => {
  const task = JSON.stringify({ type: 'custom' });

  it('answers a body that is not sent as JSON with a 400 that says to send JSON', async () => {
    for (const type of [undefined, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      const res = await refused(
        () => rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: type ? [['Content-Type', type]] : [], body: type?.startsWith('application/x-www') ? 'type=custom' : task }),
        { status: 400, code: 'validation_error', path: '(body)' },
        `Content-Type ${type}`,
      );
      expect(res.body.error.message).toBe('(body): must be a JSON object sent with Content-Type: application/json');
    }
  });

  it('answers 415 for a charset or Content-Encoding it cannot read, saying what to send', async () => {
    for (const headers of [
      [['Content-Type', 'application/json; charset=latin1']],
      [['Content-Type', 'application/json; charset=shift_jis']],
      [['Content-Type', 'application/json'], ['Content-Encoding', 'compress']],
      [['Content-Type', 'application/json'], ['Content-Encoding', 'bogus']],
    ] as Array<Array<[string, string]>>) {
      const res = await refused(() => rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers, body: task }), { status: 415, code: 'validation_error' }, JSON.stringify(headers));
      expect(res.body.error.message).toMatch(/send UTF-8 JSON/);
    }
  });

  it('answers a compressed body that does not inflate with a 400', async () => {
    await refused(
      () => rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'gzip']], body: task }),
      { status: 400, code: 'invalid_json' },
      'not gzip',
    );
  });
});

describe('invalid UTF-8', () => {
  const bytes = (...parts: Array<string | number[]>): Buffer => Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : Buffer.from(part))));

  it('refuses bytes that are not UTF-8 (instead of storing U+FFFD in their place)', async () => {
    const cases: Array<[string, Buffer]> = [
      ['a lone continuation byte in a value', bytes('{"type":"custom","name":"', [0x80], '"}')],
      ['0xFF in a key', bytes('{"type":"custom","metadata":{"', [0xff], '":1}}')],
      ['an overlong "/"', bytes('{"type":"custom","name":"', [0xc0, 0xaf], '"}')],
      ['a UTF-16 surrogate encoded as UTF-8', bytes('{"type":"custom","name":"', [0xed, 0xa0, 0x80], '"}')],
      ['a sequence cut short', bytes('{"type":"custom","name":"', [0xe2, 0x82], '"}')],
      ['Latin-1 sent as UTF-8', Buffer.from('{"type":"custom","name":"café"}', 'latin1')],
    ];
    for (const [what, body] of cases) {
      for (const type of ['application/json', 'application/json; charset=utf-8']) {
        const res = await refused(() => rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: [['Content-Type', type]], body }), { status: 400, code: 'invalid_json' }, what);
        expect(res.body.error.message).toBe('request body is not valid UTF-8');
      }
    }
  });

  it('stores valid multi-byte UTF-8 exactly', async () => {
    const name = 'café 𝕏 👩‍👩‍👧 \u202e ok';
    const res = await rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: [['Content-Type', 'application/json']], body: Buffer.from(JSON.stringify({ type: 'custom', name })) });
    expect(res.status).toBe(201);
    expect((await send('GET', `/tasks/${res.body.task_id}`)).body.name).toBe(name);
  });
});

describe('Content-Length and malformed HTTP', () => {
  const task = '{"type":"custom"}';

  it('answers a body shorter than its Content-Length with a 400 once the client gives up, creating nothing', async () => {
    await refused(
      () => rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: [['Content-Type', 'application/json']], body: task, contentLength: task.length + 10, halfClose: true }),
      { status: 400 },
      'Content-Length 10 bytes too long',
    );
  });

  it('reads only Content-Length bytes of a longer body: a 400 (for the cut JSON, or for the rest read as a request)', async () => {
    await refused(
      () => rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: [['Content-Type', 'application/json']], body: task, contentLength: task.length - 2 }),
      { status: 400, code: ['invalid_json', 'validation_error'] },
      'Content-Length 2 bytes short',
    );
  });

  it('answers what Node refuses itself (bad Content-Length, headers over 16 KiB, Expect) with the error body', async () => {
    const cases: Array<[Array<[string, string]>, number, string]> = [
      [[['Content-Length', 'abc']], 400, 'validation_error'],
      [[['Content-Length', '5'], ['Content-Length', '6']], 400, 'validation_error'],
      [[['Content-Length', '17'], ['Transfer-Encoding', 'chunked']], 400, 'validation_error'],
      [[['X-Bad Header', 'x']], 400, 'validation_error'],
      [[['X-Ctl', 'a\u0001b']], 400, 'validation_error'],
      [[['X-Huge', 'h'.repeat(20_000)]], 431, 'payload_too_large'],
      [[['Expect', 'something-else']], 417, 'validation_error'],
    ];
    for (const [headers, status, code] of cases) {
      await refused(
        () => rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: [['Content-Type', 'application/json'], ...headers], body: task, contentLength: null }),
        { status, code },
        JSON.stringify(headers).slice(0, 100),
      );
    }
    // Expect: 100-continue is still honoured (the raw client skips the interim 100 answer).
    const res = await rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: [['Content-Type', 'application/json'], ['Expect', '100-continue']], body: task });
    expect(res.status).toBe(201);
  });
});

describe('huge strings in every field', () => {
  const huge = 'x'.repeat(300_000);

  it('refuses them where the contract sets a limit, naming the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ type: 'custom', name: huge }, 'name'],
      [{ type: 'custom', id: huge }, 'id'],
      [{ type: huge }, 'type'],
      [{ type: 'custom', priority: huge }, 'priority'],
      [{ type: 'custom', config: { backoff: huge } }, 'config.backoff'],
      [{ type: 'custom', scheduled_at: huge }, 'scheduled_at'],
      [{ type: 'custom', metadata: { note: huge } }, 'metadata'],
      [{ type: 'custom', [huge]: 1 }, huge],
      [{ type: 'custom', payload: { handler: huge } }, 'payload.handler'],
      [{ type: 'custom', payload: { handler: 'fail', message: huge } }, 'payload.message'],
      [{ type: 'ai_inference', payload: { model: huge, prompt: 'p' } }, 'payload.model'],
      [{ type: 'ai_inference', payload: { model: 'm', prompt: 'p'.repeat(1_000_001) } }, 'payload.prompt'],
      [{ type: 'network_request', payload: { url: `http://example.com/${huge}` } }, 'payload.url'],
      [{ type: 'file_operation', payload: { operation: 'read', path: huge } }, 'payload.path'],
    ];
    for (const [body, where] of cases) {
      const res = await refused(() => send('POST', '/tasks', body), { status: 400, code: 'validation_error', path: where }, `huge ${where.slice(0, 40)}`);
      // The answer names the problem without echoing 300,000 characters back (an unknown field is named by its name).
      if (where !== huge) expect({ where, length: res.text.length < 10_000 }).toEqual({ where, length: true });
    }
  });

  it('accepts them where the contract sets none, within the body limit, and stores them exactly', async () => {
    for (const payload of [{ blob: huge }, { [huge.slice(0, 100_000)]: 1 }, { list: Array.from({ length: 50_000 }, (_, i) => i) }]) {
      const res = await send('POST', '/tasks', { type: 'custom', payload });
      expect(res.status).toBe(201);
      expect((await send('GET', `/tasks/${res.body.task_id}`)).body.payload).toEqual(payload);
    }
    // The contract sets no length on a command line (the system's own limit fails the task at run time).
    for (const payload of [{ command: 'echo', args: [huge] }, { command: `echo ${huge}` }]) {
      expect((await send('POST', '/tasks', { type: 'system_command', payload })).status).toBe(201);
    }
  });

  it('answers huge query parameters, path ids and headers with a 4xx, or ignores what it does not read', async () => {
    const cases: Array<[string, Array<[string, string]>, number, string?]> = [
      [`/tasks?status=${'q'.repeat(10_000)}`, [], 400, 'validation_error'],
      [`/tasks?limit=${'9'.repeat(10_000)}`, [], 400, 'validation_error'],
      [`/tasks?cursor=${'c'.repeat(10_000)}`, [], 400, 'validation_error'],
      [`/tasks?task_type=${'t'.repeat(10_000)}`, [], 400, 'validation_error'],
      [`/tasks?${'z'.repeat(10_000)}=1`, [], 200],
      [`/tasks/${'i'.repeat(10_000)}`, [], 404, 'task_not_found'],
      [`/tasks/${'i'.repeat(10_000)}/cancel`, [], 404, 'task_not_found'],
      [`/tasks?status=${'q'.repeat(20_000)}`, [], 431, 'payload_too_large'],
      [`/tasks/${'i'.repeat(20_000)}`, [], 431, 'payload_too_large'],
      ['/stats', [['X-API-Key', 'k'.repeat(10_000)], ['Authorization', `Bearer ${'k'.repeat(5_000)}`], ['Accept', 'a'.repeat(500)]], 200],
      ['/stats', [['Cookie', 'c'.repeat(20_000)]], 431, 'payload_too_large'],
    ];
    for (const [path, headers, status, code] of cases) {
      const method = path.endsWith('/cancel') ? 'POST' : 'GET';
      const res = await rawRequest(engine.baseUrl, { method, path, headers });
      if (status === 200) expect({ path: path.slice(0, 30), status: res.status }).toEqual({ path: path.slice(0, 30), status: 200 });
      else checkError(res, { status, code }, `${method} ${path.slice(0, 60)}`);
    }
  });
});

describe(`a batch of 10,000 tasks (tasks.max_batch_size ${MAX_BATCH})`, () => {
  const tasks = (n: number, extra: (i: number) => Record<string, unknown> = () => ({})): Array<Record<string, unknown>> =>
    Array.from({ length: n }, (_, i) => ({ type: 'custom', name: `t${i}`, ...extra(i) }));

  it('refuses 10,000 tasks, saying how many are allowed, and creates none', async () => {
    const res = await refused(() => send('POST', '/tasks/batch', { tasks: tasks(10_000) }), { status: 400, code: 'validation_error', path: 'tasks' }, '10,000 tasks');
    expect(res.body.error.details).toEqual([{ path: 'tasks', message: `must hold 1 to ${MAX_BATCH} tasks (tasks.max_batch_size)` }]);
    await refused(() => send('POST', '/tasks/batch', { tasks: tasks(MAX_BATCH + 1) }), { status: 400, code: 'validation_error', path: 'tasks' }, 'max + 1');
  });

  it(`refuses ${MAX_BATCH} tasks when the last one is bad, creating none`, async () => {
    const res = await refused(
      () => send('POST', '/tasks/batch', { tasks: tasks(MAX_BATCH, (i) => (i === MAX_BATCH - 1 ? { priority: 9 } : {})) }),
      { status: 400, code: 'validation_error', path: `tasks[${MAX_BATCH - 1}].priority` },
      'last task bad',
    );
    expect(res.body.error.details).toHaveLength(1);
  });

  it(`refuses ${MAX_BATCH} tasks when one id is taken by a different task (409), creating none`, async () => {
    expect((await send('POST', '/tasks', { type: 'custom', id: 'batch-taken', name: 'first' })).status).toBe(201);
    await refused(
      () => send('POST', '/tasks/batch', { tasks: tasks(MAX_BATCH, (i) => (i === 500 ? { id: 'batch-taken' } : { id: `batch-free-${i}` })) }),
      { status: 409, code: 'conflict' },
      'one id taken',
    );
    // The free ids were not kept by the refused batch: they can be used now.
    expect((await send('POST', '/tasks', { type: 'custom', id: 'batch-free-0' })).status).toBe(201);
  });

  it(`accepts exactly ${MAX_BATCH} tasks: all created, in request order, each readable`, async () => {
    const before = await created();
    const res = await send('POST', '/tasks/batch', { tasks: tasks(MAX_BATCH) });
    expect(res.status).toBe(201);
    expect(res.body.count).toBe(MAX_BATCH);
    expect(new Set(res.body.task_ids).size).toBe(MAX_BATCH);
    expect((await created()) - before).toBe(MAX_BATCH);
    for (const i of [0, 499, MAX_BATCH - 1]) {
      const read = await send('GET', `/tasks/${res.body.task_ids[i]}`);
      expect({ i, status: read.status, name: read.body.name }).toEqual({ i, status: 200, name: `t${i}` });
    }
  });
});

describe('afterwards', () => {
  it('the engine is healthy, still creates and runs tasks, and Object.prototype is untouched', async () => {
    expect((await send('GET', '/health')).body).toMatchObject({ status: 'healthy', redis: 'up' });
    const res = await send('POST', '/tasks', { type: 'custom', payload: { after: 'bad input' } });
    expect(res.status).toBe(201);
    await waitForStatus(engine, res.body.task_id, 'completed');
    expectUnpolluted();
  });
});
