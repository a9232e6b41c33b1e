// Property-based fuzzing of every route (issue 6, "Bad input"), over real HTTP on a real Redis, the API
// in-process. Properties: a valid request gets its 2xx and what it asked for; an invalid one gets a 4xx
// with the contract's error body naming what is wrong, and creates nothing; nothing ever gets a 5xx or
// goes unanswered; the engine is healthy afterwards and Object.prototype untouched. Fixed seed and
// bounded runs, so CI replays the same cases; a failure prints the case and `seed`/`path` to replay it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  brokenBatch,
  brokenEnvelope,
  brokenTaskBody,
  batchOf,
  harmlessHeader,
  hostileHeader,
  listQuery,
  nonObjectBody,
  pathId,
  roundTrip,
  trickyString,
  validTaskBody,
  wrongCredential,
  type Body,
  type BrokenBody,
} from '../support/arbitraries.js';
import { checkError, checkNoServerError, describeResponse } from '../support/contract-checks.js';
import { startEngine, type Engine } from '../support/harness.js';
import { rawJson, rawRequest, type RawResponse } from '../support/raw-http.js';

const SEED = 20_261_127;
const fuzz = <T>(arbitrary: fc.Arbitrary<T>, numRuns: number, check: (value: T) => Promise<void>): Promise<void> =>
  fc.assert(fc.asyncProperty(arbitrary, check), { seed: SEED, numRuns });

/** config.yaml's server.body_limit (1mb) and tasks.max_batch_size, which these tests run with. */
const BODY_LIMIT = 1024 * 1024;
const MAX_BATCH = 1000;
const FUZZ_TIMEOUT_MS = 120_000;

let engine: Engine;
/** Tasks created before the fuzz, to look up and cancel by id. */
const known: string[] = [];
const prototypeKeys = Object.getOwnPropertyNames(Object.prototype);

beforeAll(async () => {
  engine = await startEngine({ label: 'fuzz' });
  expect(engine.config.server.body_limit).toBe('1mb');
  expect(engine.config.tasks.max_batch_size).toBe(MAX_BATCH);
  for (const id of ['known-1', 'known.2_x-Y', 'known-3', 'known-4', 'known-5']) {
    const res = await send('POST', '/tasks', { type: 'custom', id, payload: { n: id } });
    expect(res.status).toBe(201);
    known.push(id);
  }
});

afterAll(async () => {
  await engine?.stop();
});

const send = (method: string, path: string, body?: unknown, headers: Array<[string, string]> = []): Promise<RawResponse> =>
  rawJson(engine.baseUrl, method, path, body, headers);

const show = (method: string, path: string, body?: unknown): string =>
  `${method} ${path.slice(0, 200)} ${body === undefined ? '' : (typeof body === 'string' ? body : JSON.stringify(body)).slice(0, 400)}`;

async function createdSoFar(): Promise<number> {
  const stats = await send('GET', '/stats');
  if (stats.status !== 200) throw new Error(`GET /stats → ${describeResponse(stats)}`);
  return stats.body.lifetime.created as number;
}

/** Runs `request` and fails unless /stats' lifetime.created is unchanged after it. */
async function createsNothing(what: string, request: () => Promise<void>): Promise<void> {
  const before = await createdSoFar();
  await request();
  const after = await createdSoFar();
  if (after !== before) throw new Error(`${what}\n  created ${after - before} task(s) although it was refused`);
}

let unique = 0;
/** Client ids made unique per case, so no two cases collide on one by chance (that would be a 409). */
function withUniqueId(body: Body): Body {
  return typeof body.id === 'string' ? { ...body, id: `${body.id}-u${++unique}` } : body;
}

const bytesOf = (body: unknown): number => Buffer.byteLength(JSON.stringify(body));

/** The property of a broken body: a 400 naming what is wrong (413 past the body limit), no task created. */
const refusesBroken =
  (route: string) =>
  async ({ body, path, how }: BrokenBody): Promise<void> => {
    const request = `${how}: ${show('POST', route, body)}`;
    await createsNothing(request, async () => {
      const res = await send('POST', route, body);
      if (bytesOf(body) > BODY_LIMIT) checkError(res, { status: 413, code: 'payload_too_large' }, request);
      else checkError(res, { status: 400, code: 'validation_error', path }, request);
    });
  };

const isFuture = (body: Body): boolean =>
  (typeof body.delay_seconds === 'number' && body.delay_seconds >= 1) ||
  (typeof body.scheduled_at === 'string' && Date.parse(body.scheduled_at) > Date.now() + 60_000);

describe('POST /tasks', () => {
  it('accepts every valid body: 201, the task as asked, stored as answered, idempotent under a client id', async () => {
    await fuzz(validTaskBody.map(withUniqueId), 300, async (body) => {
      const request = show('POST', '/tasks', body);
      const created = await send('POST', '/tasks', body);
      if (created.status !== 201) throw new Error(`${request}\n  → ${describeResponse(created)}`);
      const task = created.body.task;
      expect({ request, type: task.type, name: task.name, metadata: task.metadata }).toEqual({
        request,
        type: body.type,
        name: body.name ?? body.type,
        metadata: roundTrip(body.metadata ?? {}),
      });
      if (body.type === 'custom') expect({ request, payload: task.payload }).toEqual({ request, payload: roundTrip(body.payload ?? {}) });
      if (isFuture(body)) expect({ request, status: task.status }).toEqual({ request, status: 'pending' });
      // What GET answers is what POST answered (a pending task whose time came may read queued).
      const read = await send('GET', `/tasks/${encodeURIComponent(task.id)}`);
      expect({ request, status: read.status, task: { ...read.body, status: task.status } }).toEqual({ request, status: 200, task });
      if (typeof body.id === 'string') {
        const again = await send('POST', '/tasks', body);
        expect({ request, status: again.status, id: again.body.task?.id }).toEqual({ request, status: 200, id: body.id });
      }
    });
  }, FUZZ_TIMEOUT_MS);

  it('refuses a body with one thing wrong: 400 naming it (413 past the limit), nothing created', async () => {
    await fuzz(brokenTaskBody, 600, refusesBroken('/tasks'));
  }, FUZZ_TIMEOUT_MS);

  it('refuses JSON that is not one task object: 400, nothing created', async () => {
    await fuzz(nonObjectBody, 150, async (body) => {
      const request = show('POST', '/tasks', body);
      await createsNothing(request, async () => {
        checkError(await send('POST', '/tasks', body), { status: 400, code: 'validation_error', path: '(body)' }, request);
      });
    });
  }, FUZZ_TIMEOUT_MS);

  it('refuses bytes that are not a UTF-8 JSON body, whatever the Content-Type: 400 or 415, nothing created', async () => {
    const contentType = fc.constantFrom(
      undefined, 'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'text/json',
      'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/vnd.api+json', 'application/json; charset=latin1',
      'application/json; charset=utf-16', 'application/json; charset=bogus', '', ';;;', 'application/json; charset=',
    );
    const valid = validTaskBody.map((body) => JSON.stringify(withUniqueId(body)));
    const garbage = fc.oneof(
      valid.chain((text) => fc.nat({ max: text.length - 1 }).map((n) => text.slice(0, n))), // truncated
      valid.map((text) => `${text} trailing`),
      valid.map((text) => text.replace(/"/g, "'")),
      fc.constantFrom('', ' ', 'null', 'true', '1', '"custom"', '{"type":"custom",}', "{'type':'custom'}", '{"type":NaN}', '{"type":"custom"/*c*/}', '\ufeff{"type":"custom"}x', '{"a":1e999999}x'),
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
      fc.constantFrom(Buffer.from([0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])), // {"type":"\xff\xfe"}
      trickyString.map((text) => `type=custom&name=${text}`),
    );
    await fuzz(fc.tuple(garbage, contentType), 300, async ([body, type]) => {
      const request = `Content-Type ${String(type)}: ${show('POST', '/tasks', Buffer.isBuffer(body) ? `<bytes ${body.toString('hex').slice(0, 80)}>` : body)}`;
      await createsNothing(request, async () => {
        const res = await rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: type === undefined ? [] : [['Content-Type', type]], body });
        const charset = /charset=([^;]*)/i.exec(type ?? '')?.[1]?.trim().toLowerCase();
        // An empty charset= reads as none (UTF-8).
        const refusedCharset = !!charset && /^application\/json/i.test(type ?? '') && !charset.startsWith('utf-');
        checkError(res, { status: refusedCharset ? 415 : 400, code: ['invalid_json', 'validation_error'] }, request);
      });
    });
  }, FUZZ_TIMEOUT_MS);

  it('answers a valid task sent with another Content-Type with a 400 that says to send JSON', async () => {
    const type = fc.constantFrom(undefined, 'text/plain', 'application/x-www-form-urlencoded', 'text/json', 'application/jsonx', 'application/vnd.api+json');
    await fuzz(fc.tuple(validTaskBody.map(withUniqueId), type), 100, async ([body, contentType]) => {
      const request = `Content-Type ${String(contentType)}: ${show('POST', '/tasks', body)}`;
      await createsNothing(request, async () => {
        const res = await rawRequest(engine.baseUrl, { method: 'POST', path: '/tasks', headers: contentType === undefined ? [] : [['Content-Type', contentType]], body: JSON.stringify(body) });
        checkError(res, { status: 400, code: 'validation_error', path: '(body)' }, request);
        expect(res.body.error.message).toMatch(/Content-Type: application\/json/);
      });
    });
  }, FUZZ_TIMEOUT_MS);
});

describe('POST /tasks/batch', () => {
  it('accepts every valid batch: 201, one id per task in request order, all of them created', async () => {
    await fuzz(batchOf(6).map((tasks) => tasks.map(withUniqueId)), 150, async (tasks) => {
      const request = show('POST', '/tasks/batch', { tasks });
      const before = await createdSoFar();
      const res = await send('POST', '/tasks/batch', { tasks });
      if (res.status !== 201) throw new Error(`${request}\n  → ${describeResponse(res)}`);
      expect({ request, count: res.body.count, ids: res.body.task_ids.length }).toEqual({ request, count: tasks.length, ids: tasks.length });
      tasks.forEach((task, i) => {
        if (typeof task.id === 'string') expect({ request, i, id: res.body.task_ids[i] }).toEqual({ request, i, id: task.id });
      });
      expect({ request, created: (await createdSoFar()) - before }).toEqual({ request, created: tasks.length });
    });
  }, FUZZ_TIMEOUT_MS);

  it('refuses a batch with one bad task or a bad envelope: 400 naming it, nothing created', async () => {
    const broken = fc.oneof({ arbitrary: brokenBatch(6), weight: 3 }, { arbitrary: brokenEnvelope(MAX_BATCH), weight: 1 });
    await fuzz(broken, 300, refusesBroken('/tasks/batch'));
  }, FUZZ_TIMEOUT_MS);
});

describe('GET /tasks', () => {
  it('answers valid queries with a page that matches them, and names every bad parameter', async () => {
    await fuzz(listQuery, 400, async ({ query, badParams, statuses, types, limit }) => {
      const request = show('GET', `/tasks?${query}`);
      const res = await send('GET', `/tasks?${query}`);
      if (badParams.length > 0) {
        checkError(res, { status: 400, code: 'validation_error' }, request);
        const named = new Set(res.body.error.details.map((d: { path: string }) => d.path));
        expect({ request, named: [...named].sort() }).toEqual({ request, named: [...badParams].sort() });
        return;
      }
      if (res.status !== 200) throw new Error(`${request}\n  → ${describeResponse(res)}`);
      const { tasks, count, total, filters } = res.body;
      expect({ request, count, filters }).toEqual({
        request,
        count: tasks.length,
        filters: { status: statuses?.join(',') ?? null, type: types?.join(',') ?? null },
      });
      expect(tasks.length).toBeLessThanOrEqual(Math.min(limit ?? 100, total));
      for (const task of tasks) {
        if (statuses) expect({ request, status: task.status, in: statuses.includes(task.status) }).toEqual({ request, status: task.status, in: true });
        if (types) expect({ request, type: task.type, in: types.includes(task.type) }).toEqual({ request, type: task.type, in: true });
      }
    });
  }, FUZZ_TIMEOUT_MS);
});

describe('GET /tasks/{id} and POST /tasks/{id}/cancel', () => {
  const someId = fc.oneof(
    { arbitrary: pathId, weight: 4 },
    { arbitrary: fc.integer({ min: 0, max: 4 }).map((i) => ({ segment: encodeURIComponent(known[i]!), decoded: known[i]! as string | null })), weight: 1 },
  );

  it('finds known ids, 404s unknown ones, 400s undecodable ones', async () => {
    await fuzz(someId, 300, async ({ segment, decoded }) => {
      const request = show('GET', `/tasks/${segment}`);
      const res = await send('GET', `/tasks/${segment}`);
      if (decoded === null) return checkError(res, { status: 400, code: 'validation_error', path: '(path)' }, request);
      if (known.includes(decoded)) {
        expect({ request, status: res.status, id: res.body.id }).toEqual({ request, status: 200, id: decoded });
        return;
      }
      checkError(res, { status: 404, code: 'task_not_found' }, request);
    });
  }, FUZZ_TIMEOUT_MS);

  it('cancels known tasks once (then 409), 404s unknown ids, and reads any body it is sent first', async () => {
    const body = fc.constantFrom<[string | undefined, boolean]>([undefined, true], ['{}', true], ['{"reason":"x"}', true], ['[1]', true], ['{"reason":', false], ['nope', false]);
    await fuzz(fc.tuple(someId, body), 200, async ([{ segment, decoded }, [text, parses]]) => {
      const request = show('POST', `/tasks/${segment}/cancel`, text);
      const res = await rawRequest(engine.baseUrl, { method: 'POST', path: `/tasks/${segment}/cancel`, headers: text === undefined ? [] : [['Content-Type', 'application/json']], body: text });
      if (!parses) return checkError(res, { status: 400, code: 'invalid_json' }, request);
      if (decoded === null) return checkError(res, { status: 400, code: 'validation_error' }, request);
      if (!known.includes(decoded)) return checkError(res, { status: 404, code: 'task_not_found' }, request);
      if (res.status === 409) checkError(res, { status: 409, code: 'task_not_cancellable' }, request);
      else expect({ request, status: res.status, body: res.body }).toEqual({ request, status: 200, body: { success: true, task_id: decoded, status: 'cancelled', previous_status: 'queued' } });
      const read = await send('GET', `/tasks/${segment}`);
      expect({ request, status: read.body.status }).toEqual({ request, status: 'cancelled' });
    });
  }, FUZZ_TIMEOUT_MS);
});

describe('other routes, methods and headers', () => {
  const ROUTES: Record<string, (res: RawResponse) => boolean> = {
    '/stats': (res) => res.status === 200 && typeof res.body.lifetime?.created === 'number',
    '/health': (res) => res.status === 200 && res.body.status === 'healthy',
    '/metrics': (res) => res.status === 200 && res.text.includes('taskengine_tasks_created_total'),
    '/workers': (res) => res.status === 200 && Array.isArray(res.body.workers),
  };
  const unknownPath = fc.oneof(
    fc.constantFrom('/', '/nope', '/tasks/a/b', '/tasks/x/cancel/y', '/stats/x', '/health/x', '/%2e%2e/stats', '/..;/stats', '/api/tasks', '/tasks.json', '/admin', '/metrics/x'),
    fc.array(trickyString.filter((s) => !/\p{Surrogate}/u.test(s)), { minLength: 1, maxLength: 3 }).map((parts) => `/x/${parts.map(encodeURIComponent).join('/')}`),
  );

  it('answers the read-only routes whatever harmless headers come with them, and 404s everything else', async () => {
    const route = fc.oneof(
      fc.tuple(fc.constantFrom(...Object.keys(ROUTES)), fc.constant('GET')),
      fc.tuple(fc.constantFrom(...Object.keys(ROUTES), '/tasks/batch', '/tasks'), fc.constantFrom('PUT', 'DELETE', 'PATCH')),
      fc.tuple(unknownPath, fc.constantFrom('GET', 'POST', 'PUT', 'DELETE')),
    );
    await fuzz(fc.tuple(route, fc.array(harmlessHeader, { maxLength: 4 })), 300, async ([[path, method], headers]) => {
      const request = `${method} ${path} ${JSON.stringify(headers).slice(0, 300)}`;
      const res = await rawRequest(engine.baseUrl, { method, path, headers });
      const expected = method === 'GET' ? ROUTES[path] : undefined;
      if (expected) {
        if (!expected(res)) throw new Error(`${request}\n  → ${describeResponse(res)}`);
      } else {
        checkError(res, { status: 404, code: 'not_found' }, request);
      }
    });
  }, FUZZ_TIMEOUT_MS);

  it('answers requests with hostile header lines with their normal answer or a 4xx error body, never a 5xx or silence', async () => {
    const route = fc.constantFrom<[string, string, string | undefined]>(
      ['GET', '/stats', undefined],
      ['GET', '/health', undefined],
      ['GET', '/tasks?limit=1', undefined],
      ['POST', '/tasks', '{"type":"custom"}'],
      ['POST', '/tasks/batch', '{"tasks":[{"type":"custom"}]}'],
    );
    await fuzz(fc.tuple(route, fc.array(hostileHeader, { minLength: 1, maxLength: 2 }), fc.array(harmlessHeader, { maxLength: 2 })), 150, async ([[method, path, body], hostile, harmless]) => {
      const headers: Array<[string, string]> = [...harmless, ...hostile];
      if (body !== undefined) headers.unshift(['Content-Type', 'application/json']);
      const request = `${method} ${path} ${JSON.stringify(headers).slice(0, 300)}`;
      const before = await createdSoFar();
      const res = await rawRequest(engine.baseUrl, { method, path, headers, body });
      checkNoServerError(res, request);
      const created = (await createdSoFar()) - before;
      expect({ request, status: res.status, created }).toEqual({ request, status: res.status, created: res.status === 201 ? 1 : 0 });
    });
  }, FUZZ_TIMEOUT_MS);
});

describe('with API keys', () => {
  const KEY = 'fuzz-right-key-0123456789';
  let keyed: Engine;
  beforeAll(async () => {
    keyed = await startEngine({ label: 'fuzz-keys', overrides: { auth: { api_keys: [KEY] } } });
  });
  afterAll(async () => {
    await keyed?.stop();
  });

  it('answers 401 with the error body to every wrong credential, creating nothing, and still serves /health', async () => {
    const route = fc.constantFrom<[string, string, string | undefined]>(
      ['GET', '/stats', undefined],
      ['GET', '/tasks', undefined],
      ['GET', '/tasks/known-1', undefined],
      ['GET', '/metrics', undefined],
      ['POST', '/tasks', '{"type":"custom"}'],
      ['POST', '/tasks/batch', '{"tasks":[{"type":"custom"}]}'],
      ['POST', '/tasks/known-1/cancel', undefined],
      ['GET', '/health', undefined],
    );
    const credentials = fc.array(wrongCredential.filter(([, value]) => !value.includes(KEY)), { minLength: 0, maxLength: 2 });
    const createdWithKey = async (): Promise<number> =>
      (await rawJson(keyed.baseUrl, 'GET', '/stats', undefined, [['X-API-Key', KEY]])).body.lifetime.created as number;
    await fuzz(fc.tuple(route, credentials), 200, async ([[method, path, body], creds]) => {
      const headers: Array<[string, string]> = [...creds];
      if (body !== undefined) headers.unshift(['Content-Type', 'application/json']);
      const request = `${method} ${path} ${JSON.stringify(headers).slice(0, 300)}`;
      const before = await createdWithKey();
      const res = await rawRequest(keyed.baseUrl, { method, path, headers, body });
      // Node refuses header sections over 16 KiB itself (431); two 8,000-character credentials come close.
      const headerBytes = creds.reduce((n, [name, value]) => n + name.length + value.length + 4, 0);
      if (headerBytes > 15_000) checkNoServerError(res, request);
      else if (path === '/health') expect({ request, status: res.status }).toEqual({ request, status: 200 });
      else checkError(res, { status: 401, code: 'unauthorized' }, request);
      expect({ request, created: (await createdWithKey()) - before }).toEqual({ request, created: 0 });
    });
    // The right key, in each form the contract names, still works.
    for (const header of [['Authorization', `Bearer ${KEY}`], ['X-API-Key', KEY], ['Authorization', `Basic ${Buffer.from(`u:${KEY}`).toString('base64')}`]] as Array<[string, string]>) {
      expect((await rawJson(keyed.baseUrl, 'GET', '/stats', undefined, [header])).status).toBe(200);
    }
  }, FUZZ_TIMEOUT_MS);
});

describe('afterwards', () => {
  it('the engine is healthy, still creates tasks, and Object.prototype is untouched', async () => {
    const health = await send('GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'healthy', redis: 'up' });
    const created = await send('POST', '/tasks', { type: 'custom', payload: { after: 'fuzz' } });
    expect(created.status).toBe(201);
    expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(prototypeKeys);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
