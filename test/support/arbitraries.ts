// fast-check arbitraries for fuzzing the API with the inputs real clients get wrong. Valid bodies are
// built field by field from the contract (every task type's payload included); invalid ones are a
// valid body with exactly one thing broken, and say which field the 400 must name. Strings and numbers
// lean on the values that break naive code: boundaries, unicode, prototype words, huge sizes.
import fc from 'fast-check';
import { formatPath } from '@taskengine/core';

/** Any value JSON can carry (kept loose: the fuzz builds wrong shapes on purpose). */
export type Json = unknown;
export type Body = Record<string, unknown>;

export const TASK_TYPES = ['ai_inference', 'data_processing', 'file_operation', 'network_request', 'system_command', 'custom'] as const;
export const STATUSES = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'timeout'] as const;
const PRIORITY_NAMES = ['CRITICAL', 'HIGH', 'NORMAL', 'LOW', 'BACKGROUND'] as const;
const TOP_LEVEL_FIELDS = ['type', 'id', 'name', 'priority', 'config', 'payload', 'metadata', 'scheduled_at', 'delay_seconds'];
const SERVER_OWNED = [
  'status', 'result', 'error', 'error_code', 'progress', 'created_at', 'started_at', 'completed_at',
  'retry_count', 'worker_id', 'task_id', 'priority_name', 'schedule_id',
];
const CONFIG_FIELDS = ['timeout_seconds', 'max_retries', 'retry_delay_seconds', 'backoff', 'dependencies'];

/** JSON as the server sees it: `-0` becomes 0, so compare stored values with this, not the original. */
export const roundTrip = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The server refuses `__proto__` keys (json-body.ts); valid inputs must not carry one. */
function hasProtoKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(hasProtoKey);
  return Object.entries(value).some(([key, inner]) => key === '__proto__' || hasProtoKey(inner));
}

// ------------------------------------------------------------------------------------------ scalars

const loneSurrogates = fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 3 });

/** A string a URL can carry (encodeURIComponent throws on a lone surrogate). */
export const wellFormed = (text: string): boolean => !/\p{Surrogate}/u.test(text);

/** Strings that break naive code: controls, bidi, astral, lone surrogates, paths, shell, prototype words. */
export const trickyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '', ' ', '\t\r\n', '\u0000', '\u202e', '\ufeff', '\uffff', '𝕏', '👩‍👩‍👧', 'é', 'e\u0301', '../../etc/passwd', '/etc/passwd',
    '$(id)', '`id`', '; rm -rf /', '%00', '%', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
    '{{7*7}}', '<script>alert(1)</script>', "' OR '1'='1", 'null', 'undefined', 'NaN', '1e400', '-0', '0x10',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  loneSurrogates,
);

/** Strings well past every field's limit; the largest, in 4-byte characters, is past the 1 MB body limit. */
export const hugeString: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(201, 16_385, 70_000, 300_000), fc.constantFrom('x', 'é', '𝕏'))
  .map(([n, c]) => c.repeat(n));

/** Numbers at and around every limit the contract names, and the extremes of a double. */
export const boundaryNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0, -0, -1, 0.5, 1, 4, 5, 25, 26, 128, 200, 201, 1000, 1001, 86_400, 86_401, 1e-300, 5e-324, 2 ** 31, 2 ** 53 + 2,
    Number.MAX_SAFE_INTEGER, 1e21, 1e300, -1e300, Number.MAX_VALUE, -Number.MAX_VALUE,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Any value of any JSON type, tricky strings and boundary numbers included. */
export const anyJson: fc.Arbitrary<Json> = fc.oneof(
  trickyString,
  boundaryNumber,
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
);

/** JSON for free-form places (metadata values, custom payloads): small, any type, no `__proto__` key. */
const freeJson: fc.Arbitrary<Json> = (fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>).filter((value) => !hasProtoKey(value));
const freeKey = fc.oneof(trickyString, fc.string({ unit: 'binary', maxLength: 12 })).filter((key) => key !== '__proto__');

// --------------------------------------------------------------------------------- valid task bodies

const positiveSeconds = (max: number) =>
  fc.oneof(fc.constantFrom(1e-3, 1, max), fc.double({ min: 1e-3, max, noNaN: true, noDefaultInfinity: true }));

const priority = fc.oneof(
  fc.integer({ min: 0, max: 4 }),
  fc.constantFrom(...PRIORITY_NAMES).chain((name) => fc.constantFrom(name, name.toLowerCase(), name[0] + name.slice(1).toLowerCase())),
);

const taskConfig = fc.record(
  {
    timeout_seconds: positiveSeconds(86_400),
    max_retries: fc.integer({ min: 0, max: 25 }),
    retry_delay_seconds: fc.oneof(fc.constantFrom(0, 1e-4, 0.0015, 0.0010000000000000002, 9e12), positiveSeconds(86_400)),
    backoff: fc.constantFrom('fixed', 'exponential'),
  },
  { requiredKeys: [] },
);

const metadata = fc.dictionary(freeKey, freeJson, { maxKeys: 6, noNullPrototype: true });

/** BullMQ's key words, which the contract reserves (a task id may not be one, nor a whole number). */
const RESERVED_IDS = ['active', 'wait', 'waiting-children', 'paused', 'id', 'delayed', 'prioritized', 'stalled-check', 'completed', 'failed', 'stalled', 'repeat', 'limiter', 'meta', 'events', 'pc', 'marker', 'de', 'metrics'];

/** A valid client id; the fuzz appends a unique suffix so that two cases never share one by chance. */
export const clientIdPrefix = fc.stringMatching(/^[A-Za-z0-9_.-]{1,90}$/).filter((id) => !/^\d+$/.test(id) && !RESERVED_IDS.includes(id));

const runTime = fc.oneof(
  fc.record({ delay_seconds: fc.oneof(fc.constantFrom(0, 1e-9, 60), fc.double({ min: 0, max: 1e9, noNaN: true, noDefaultInfinity: true })) }),
  fc.record({
    scheduled_at: fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('9999-12-30T00:00:00Z'), noInvalidDate: true })
      .chain((date) => fc.constantFrom(date.toISOString(), date.toISOString().replace('Z', '+05:30'), date.toISOString().replace('.000Z', 'Z'))),
  }),
);

const commonFields = fc.record(
  {
    name: fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }),
    priority,
    config: taskConfig,
    metadata,
    id: clientIdPrefix,
    when: runTime,
    // What clients of the earlier version send back: accepted and ignored.
    owned: fc.dictionary(fc.constantFrom(...SERVER_OWNED), anyJson, { maxKeys: 3, noNullPrototype: true }),
  },
  { requiredKeys: [] },
);

const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/).filter((w) => w !== 'constructor' && w !== 'prototype');
const relativePath = fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));
const shortText = fc.string({ unit: 'binary', maxLength: 60 });

const customPayload = fc.oneof(
  fc.dictionary(freeKey.filter((k) => !['handler', 'duration_ms', 'message', 'retryable'].includes(k)), freeJson, { maxKeys: 6, noNullPrototype: true }),
  fc.record({ handler: fc.constant('echo'), note: shortText }),
  fc.record({ handler: fc.constant('sleep'), duration_ms: fc.integer({ min: 0, max: 86_400_000 }) }),
  fc.record({ handler: fc.constant('fail'), message: shortText, retryable: fc.boolean() }, { requiredKeys: ['handler'] }),
);

const aiPayload = fc
  .tuple(
    fc.record(
      {
        model: fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }),
        system: shortText,
        max_tokens: fc.integer({ min: 1, max: 10_000_000 }),
        temperature: fc.double({ min: 0, max: 2, noNaN: true }),
        top_p: fc.double({ min: 0, max: 1, noNaN: true }),
        provider: fc.stringMatching(/^[A-Za-z0-9._:/@-]{1,100}$/),
      },
      { requiredKeys: ['model'] },
    ),
    fc.oneof(
      fc.record({ prompt: fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }) }),
      fc.record({ messages: fc.array(fc.record({ role: fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool'), content: shortText }), { minLength: 1, maxLength: 4 }) }),
    ),
  )
  .map(([base, input]) => ({ ...base, ...input }));

const REFUSED_HEADERS = ['host', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'expect'];
const scalar = fc.oneof(shortText, fc.integer(), fc.boolean());

const networkPayload = fc
  .tuple(
    fc.record(
      {
        url: fc.webUrl({ validSchemes: ['http', 'https'], withQueryParameters: true, withFragments: true }),
        headers: fc.dictionary(
          fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/).filter((name) => !REFUSED_HEADERS.includes(name.toLowerCase())),
          fc.stringMatching(/^[\x20-\x7e]{0,40}$/),
          { maxKeys: 4, noNullPrototype: true },
        ),
        params: fc.dictionary(freeKey, fc.oneof(scalar, fc.array(scalar, { maxLength: 3 })), { maxKeys: 4, noNullPrototype: true }),
        timeout_seconds: positiveSeconds(86_400),
        follow_redirects: fc.boolean(),
        expect_status: fc.array(fc.integer({ min: 100, max: 599 }), { minLength: 1, maxLength: 5 }),
      },
      { requiredKeys: ['url'] },
    ),
    fc.oneof(
      fc.record({ method: fc.constantFrom('GET', 'get', 'HEAD', 'Head') }, { requiredKeys: [] }),
      fc.record({ method: fc.constantFrom('POST', 'put', 'PATCH', 'delete') }).chain((m) =>
        fc.oneof(fc.constant(m), fc.record({ data: freeJson }).map((d) => ({ ...m, ...d })), fc.record({ body: shortText }).map((b) => ({ ...m, ...b }))),
      ),
    ),
  )
  .map(([base, method]) => ({ ...base, ...method }));

const systemPayload = fc.record(
  {
    command: fc.constantFrom('echo', 'date', 'ls', 'cat', 'sleep', 'uname', 'wc', 'head', 'tail', 'sort'),
    args: fc.array(fc.string({ unit: 'binary', maxLength: 30 }).map((arg) => arg.replaceAll('\0', '')), { maxLength: 5 }),
    cwd: relativePath,
    env: fc.dictionary(fc.stringMatching(/^TE_[A-Z0-9_]{0,10}$/), shortText.map((v) => v.replaceAll('\0', '')), { maxKeys: 3, noNullPrototype: true }),
    stdin: shortText,
  },
  { requiredKeys: ['command'] },
);

const base64 = fc.uint8Array({ maxLength: 30 }).map((bytes) => Buffer.from(bytes).toString('base64'));
const filePayload = fc.oneof(
  fc.record({ operation: fc.constantFrom('read', 'stat', 'exists', 'list', 'mkdir'), path: relativePath }),
  fc.record({ operation: fc.constantFrom('delete'), path: relativePath, recursive: fc.boolean() }, { requiredKeys: ['operation', 'path'] }),
  fc.record({ operation: fc.constantFrom('write', 'append'), path: relativePath, content: shortText, encoding: fc.constant('utf8') }, { requiredKeys: ['operation', 'path', 'content'] }),
  fc.record({ operation: fc.constantFrom('write', 'append'), path: relativePath, content: base64, encoding: fc.constant('base64') }),
  fc.record({ operation: fc.constantFrom('copy', 'move'), path: relativePath, destination: relativePath, overwrite: fc.boolean() }, { requiredKeys: ['operation', 'path', 'destination'] }),
);

const step = fc.oneof(
  fc.record({ op: fc.constant('filter'), where: fc.record({ field: word, op: fc.constantFrom('eq', 'ne', 'contains'), value: freeJson }) }),
  fc.record({ op: fc.constant('filter'), where: fc.record({ field: word, op: fc.constantFrom('gt', 'gte', 'lt', 'lte'), value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), shortText) }) }),
  fc.record({ op: fc.constant('select'), fields: fc.array(word, { minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constant('rename'), fields: fc.tuple(word, word).map(([from, to]) => ({ [from]: to })) }),
  fc.record({ op: fc.constant('sort'), by: word, order: fc.constantFrom('asc', 'desc') }, { requiredKeys: ['op', 'by'] }),
  fc.record({ op: fc.constant('group_by'), by: word, aggregations: fc.constant({ zz_count: { fn: 'count' } }) }).filter((s) => s.by !== 'zz_count'),
  fc.record({ op: fc.constantFrom('limit', 'offset'), n: fc.nat() }),
  fc.record({ op: fc.constant('distinct') }),
);
const dataPayload = fc.record(
  {
    items: fc.array(fc.dictionary(word, freeJson, { maxKeys: 4, noNullPrototype: true }), { maxLength: 5 }),
    operations: fc.array(step, { maxLength: 4 }),
    format: fc.constantFrom('json', 'ndjson', 'csv'),
  },
  { requiredKeys: ['items'] },
);

const PAYLOADS: Record<(typeof TASK_TYPES)[number], fc.Arbitrary<Record<string, unknown>>> = {
  custom: customPayload,
  ai_inference: aiPayload,
  network_request: networkPayload,
  system_command: systemPayload,
  file_operation: filePayload,
  data_processing: dataPayload,
};

/** `{type, payload}` of one task type, payload valid for it (`payload` left out sometimes for custom). */
const typed = fc.oneof(
  ...TASK_TYPES.map((type) =>
    PAYLOADS[type].map((payload) => (type === 'custom' && Object.keys(payload).length === 0 ? { type } : { type, payload })),
  ),
);

/** A POST /tasks body the contract accepts. `id`, when present, is a prefix the caller makes unique. */
export const validTaskBody: fc.Arbitrary<Body> = fc
  .tuple(typed, commonFields)
  .map(([core, { when, owned, ...common }]) => ({ ...owned, ...common, ...(when ?? {}), ...core }) as Body)
  .filter((body) => !hasProtoKey(body));

// ------------------------------------------------------------------------------- invalid task bodies

export interface BrokenBody {
  body: Json;
  /** The path the 400's details must name (or a path below it). */
  path: string;
  /** What was broken, for the failure message. */
  how: string;
}

/** Values that are wrong for each field, whatever the rest of the body says. */
const WRONG: Record<string, fc.Arbitrary<Json>> = {
  type: fc.oneof(fc.constantFrom('CUSTOM', 'Custom', ' custom', 'shell', ''), trickyString.filter((s) => !(TASK_TYPES as readonly string[]).includes(s)), boundaryNumber, fc.constant(null), fc.constant([])),
  name: fc.oneof(fc.constant(''), hugeString, boundaryNumber, fc.constant(null), fc.constant(true), fc.constant({ text: 'x' })),
  priority: fc.oneof(fc.constantFrom(-1, 5, 1.5, 2 ** 53 + 2, 1e300, 'urgent', 'HIGH ', 'high\u0000', '', '2', 'NORMAl\u0130'), fc.constant(null), fc.constant([1]), fc.boolean()),
  config: fc.oneof(fc.constant([]), fc.constant(null), trickyString, boundaryNumber, fc.constant(true)),
  'config.timeout_seconds': fc.oneof(fc.constantFrom(0, -0, -1, 86_401, 1e300, Number.MAX_VALUE, '5', ''), fc.constant(null), fc.constant({})),
  'config.max_retries': fc.constantFrom(-1, 26, 1.5, 1e300, '3', null, true),
  'config.retry_delay_seconds': fc.constantFrom(-1, -1e-300, -Number.MAX_VALUE, 1e13, 1e306, '5', null, false),
  // Ids that cannot be task ids; ids that could be but name no task are refused too (checked in Redis).
  'config.dependencies': fc.constantFrom('a', [1], ['a b'], [''], [null], {}, 'x'.repeat(3)),
  'config.backoff': fc.oneof(fc.constantFrom('linear', 'Fixed', '', 1, null), trickyString.filter((s) => s !== 'fixed' && s !== 'exponential')),
  payload: fc.oneof(fc.constant([]), fc.constant(null), trickyString, boundaryNumber, fc.constant([{ a: 1 }])),
  metadata: fc.oneof(
    fc.constant([]),
    fc.constant(null),
    trickyString,
    boundaryNumber,
    hugeString.filter((s) => s.length > 16_384).map((s) => ({ big: s })),
  ),
  id: fc.oneof(
    fc.constantFrom('', 'has space', '123', '0', 'wait', 'active', '../x', 'a/b', 'é', 'x'.repeat(129), 'id\u0000', 'id\n'),
    hugeString,
    boundaryNumber,
    fc.constant(null),
  ),
  scheduled_at: fc.oneof(fc.constantFrom('tomorrow', '2030-13-01T00:00:00Z', '2030-01-01', '2030-01-01 00:00:00', '+275760-09-13T00:00:00Z', ''), boundaryNumber, fc.constant(null)),
  delay_seconds: fc.oneof(fc.constantFrom(-1, -1e-300, 1e13, 1e300, Number.MAX_VALUE, '10', ''), fc.constant(null), fc.constant({})),
};

/** Payloads each type's schema refuses (the path is under `payload`). */
const WRONG_PAYLOAD: Record<(typeof TASK_TYPES)[number], fc.Arbitrary<Json>> = {
  custom: fc.constantFrom({ handler: 'nope' }, { handler: '' }, { handler: 'sleep' }, { handler: 'sleep', duration_ms: -1 }, { duration_ms: 1.5 }, { message: 1 }, { retryable: 'no' }),
  ai_inference: fc.constantFrom({}, { model: 'm' }, { model: 'm', prompt: 'a', messages: [{ role: 'user', content: 'b' }] }, { model: '', prompt: 'a' }, { model: 'm', prompt: 'a', temperature: 3 }, { model: 'm', messages: [] }, { model: 'm', prompt: 'a', provider: 'bad provider' }, { model: 'm', prompt: 'a', base_url: 'http://x' }),
  network_request: fc.constantFrom({}, { url: 'file:///etc/passwd' }, { url: 'not a url' }, { url: 'http://x', method: 'TRACE' }, { url: 'http://x', headers: { Host: 'y' } }, { url: 'http://x', headers: { 'X-A': 'a\r\nb' } }, { url: 'http://x', data: 1 }, { url: 'http://x', method: 'POST', data: 1, body: 'b' }, { url: 'http://x', expect_status: [99] }),
  system_command: fc.constantFrom({}, { command: 'rm -rf /' }, { command: 'echo a | cat' }, { command: 'echo $(id)' }, { command: 'echo', args: ['a\u0000'] }, { command: 'echo', cwd: '../..' }, { command: 'echo', env: { PATH: '/tmp' } }, { command: 'echo', env: { LD_PRELOAD: 'x' } }, { command: '/bin/sh' }),
  file_operation: fc.constantFrom({}, { operation: 'read' }, { operation: 'read', path: '../x' }, { operation: 'read', path: '/etc/passwd' }, { operation: 'read', path: 'a\u0000b' }, { operation: 'chmod', path: 'a' }, { operation: 'copy', path: 'a' }, { operation: 'write', path: 'a', content: '!!', encoding: 'base64' }, { operation: 'delete', path: '.' }),
  data_processing: fc.constantFrom({}, { items: [], source: { file: 'a.json' } }, { items: [1] }, { items: [], operations: [{ op: 'eval', code: '1' }] }, { items: [], operations: [{ op: 'select', fields: ['__proto__'] }] }, { items: [], operations: [{ op: 'filter', where: { field: 'a', op: 'gt', value: [] } }] }, { source: { file: '../a.json' } }),
};

function setPath(body: Body, path: string, value: Json): Body {
  const [head, tail] = path.split('.') as [string, string | undefined];
  if (tail === undefined) return { ...body, [head]: value };
  const inner = body[head];
  return { ...body, [head]: { ...(inner && typeof inner === 'object' && !Array.isArray(inner) ? inner : {}), [tail]: value } };
}

const unknownKey = (known: string[]) => fc.oneof(trickyString, fc.string({ maxLength: 12 })).filter((key) => !known.includes(key));

/** A valid body with exactly one thing wrong, and the path the answer must name. */
export const brokenTaskBody: fc.Arbitrary<BrokenBody> = validTaskBody.chain((valid) =>
  fc.oneof(
    // A field with a value of the wrong type or out of range.
    fc.constantFrom(...Object.keys(WRONG)).chain((path) =>
      WRONG[path]!.map((value) => ({ body: setPath(valid, path, value), path, how: `wrong ${path}` })),
    ),
    // The type's payload schema refuses it.
    WRONG_PAYLOAD[valid.type as (typeof TASK_TYPES)[number]].map((payload) => ({ body: { ...valid, payload }, path: 'payload', how: 'bad payload for its type' })),
    // A required field missing.
    fc.constant({ body: Object.fromEntries(Object.entries(valid).filter(([key]) => key !== 'type')), path: 'type', how: 'type missing' }),
    // A field the contract does not know, at the top level or in config (`__proto__` included).
    unknownKey([...TOP_LEVEL_FIELDS, ...SERVER_OWNED]).chain((key) =>
      anyJson.map((value) => ({ body: { ...valid, [key]: value }, path: formatPath([key]), how: `unknown field ${JSON.stringify(key)}` })),
    ),
    unknownKey(CONFIG_FIELDS).chain((key) =>
      anyJson.map((value) => ({ body: { ...valid, config: { ...((valid.config as Body) ?? {}), [key]: value } }, path: formatPath(['config', key]), how: `unknown config field ${JSON.stringify(key)}` })),
    ),
    // Two fields that exclude each other.
    fc.constant({ body: { ...valid, scheduled_at: '2030-01-01T00:00:00Z', delay_seconds: 5 } as Json, path: 'delay_seconds', how: 'scheduled_at and delay_seconds' }),
  ),
);

/** Bodies that are not a task object at all (JSON, but the wrong shape). */
export const nonObjectBody: fc.Arbitrary<Json> = fc.oneof(
  fc.array(anyJson, { maxLength: 3 }),
  fc.constant([]),
  fc.array(validTaskBody, { minLength: 1, maxLength: 2 }),
);

// ------------------------------------------------------------------------------------------- batches

export const batchOf = (maxTasks: number): fc.Arbitrary<Body[]> => fc.array(validTaskBody, { minLength: 1, maxLength: maxTasks });

/** A batch with one broken task at `index`: the whole batch must be refused, naming tasks[index]. */
export const brokenBatch = (maxTasks: number): fc.Arbitrary<BrokenBody> =>
  fc.tuple(batchOf(maxTasks - 1), brokenTaskBody, fc.nat()).map(([tasks, broken, at]) => {
    const index = at % (tasks.length + 1);
    const all = [...tasks.slice(0, index), broken.body, ...tasks.slice(index)];
    const path = broken.path === '(body)' ? `tasks[${index}]` : `tasks[${index}].${broken.path}`;
    return { body: { tasks: all } as Json, path, how: `tasks[${index}]: ${broken.how}` };
  });

/** Envelopes that are wrong whatever the tasks in them. */
export const brokenEnvelope = (maxBatch: number): fc.Arbitrary<BrokenBody> =>
  fc.oneof(
    fc.constant({ body: {}, path: 'tasks', how: 'no tasks' }),
    fc.constant({ body: { tasks: [] }, path: 'tasks', how: 'empty tasks' }),
    anyJson.filter((v) => !Array.isArray(v)).map((tasks) => ({ body: { tasks }, path: 'tasks', how: 'tasks not an array' })),
    fc.constant({ body: { tasks: Array.from({ length: maxBatch + 1 }, () => ({ type: 'custom' })) }, path: 'tasks', how: 'one task over max_batch_size' }),
    fc.constantFrom('ordered', 'concurrency', 'task', 'Tasks', '__proto__', 'constructor').chain((key) =>
      batchOf(2).map((tasks) => ({ body: { tasks, [key]: 1 } as Json, path: key, how: `unknown envelope field ${key}` })),
    ),
    // The envelope's own options with a value of the wrong type or out of range.
    fc.tuple(batchOf(2), fc.constantFrom(1, 'false', null, [])).map(([tasks, parallel]) => ({ body: { tasks, parallel } as Json, path: 'parallel', how: 'parallel not a boolean' })),
    fc.tuple(batchOf(2), fc.constantFrom(0, -1, 1.5, '2', null, true)).map(([tasks, cap]) => ({ body: { tasks, max_concurrency: cap } as Json, path: 'max_concurrency', how: 'max_concurrency not a whole number >= 1' })),
    fc.tuple(batchOf(2), anyJson.filter((v) => v === null || typeof v !== 'object' || Array.isArray(v))).map(([tasks, item]) => ({
      body: { tasks: [...tasks, item] } as Json,
      path: `tasks[${tasks.length}]`,
      how: 'a task that is not an object',
    })),
  );

// ------------------------------------------------------------------------------------ GET /tasks query

export interface ListQueryCase {
  /** The query string, percent-encoded, without `?`. */
  query: string;
  /** The parameters the 400 must name; empty when the query is valid. */
  badParams: string[];
  /** What a valid query filters on. */
  statuses?: string[];
  types?: string[];
  limit?: number;
}

/** What a client can put in a query string. */
const urlText = trickyString.filter(wellFormed);

type Param = { name: string; value: string; bad: boolean; statuses?: string[]; types?: string[]; limit?: number };

const commaList = (allowed: readonly string[]) =>
  fc.subarray([...allowed], { minLength: 1 }).chain((items) =>
    fc.constantFrom(items.join(','), items.join(' , '), `,${items.join(',,')},`).map((text) => ({ text, items })),
  );

const statusParam: fc.Arbitrary<Param> = fc.oneof(
  commaList(STATUSES).map(({ text, items }) => ({ name: 'status', value: text, bad: false, statuses: items })),
  fc.constant({ name: 'status', value: '', bad: false }),
  fc.oneof(urlText, fc.constantFrom('QUEUED', 'queued;', 'queued,bogus', 'done')).filter((s) => s.split(',').some((item) => item.trim() !== '' && !(STATUSES as readonly string[]).includes(item.trim())))
    .map((value) => ({ name: 'status', value, bad: true })),
);

const typeParam: fc.Arbitrary<Param> = fc.constantFrom('task_type', 'type').chain((name) =>
  fc.oneof(
    commaList(TASK_TYPES).map(({ text, items }) => ({ name, value: text, bad: false, types: items })),
    fc.oneof(urlText, fc.constantFrom('CUSTOM', 'custom,shell', 'shell')).filter((s) => s.split(',').some((item) => item.trim() !== '' && !(TASK_TYPES as readonly string[]).includes(item.trim())))
      .map((value) => ({ name, value, bad: true })),
  ),
);

const limitParam: fc.Arbitrary<Param> = fc.oneof(
  fc.integer({ min: 1, max: 1000 }).chain((n) => fc.constantFrom(String(n), String(n).padStart(6, '0')).map((value) => ({ name: 'limit', value, bad: false, limit: n }))),
  fc.constantFrom('0', '1001', '-1', '1.5', '1e3', ' 5', '5 ', '', 'ten', '99999999999999999999', '0x10', '١٠').map((value) => ({ name: 'limit', value, bad: true })),
);

const cursorParam: fc.Arbitrary<Param> = fc.oneof(
  fc.constant({ name: 'cursor', value: '', bad: false }),
  // Cursors of the form the server makes (a 15-digit time and an id), for tasks that may not exist.
  fc.tuple(fc.integer({ min: 0, max: 2 ** 48 }), clientIdPrefix).map(([t, id]) => ({ name: 'cursor', value: Buffer.from(`${String(t).padStart(15, '0')}:${id}`).toString('base64url'), bad: false })),
  fc.oneof(urlText.filter((s) => s !== ''), fc.base64String({ minLength: 4 }), fc.constantFrom('x'.repeat(4000), 'é'.repeat(1000), '𝕏'.repeat(500)))
    .map((value) => ({ name: 'cursor', value, bad: true })),
);

/** Parameters the server does not know: ignored, whatever they hold. */
const unknownParam: fc.Arbitrary<Param> = fc
  .tuple(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'page', 'offset', 'sort'), fc.string({ maxLength: 10 })), urlText)
  .filter(([name]) => !['status', 'task_type', 'type', 'limit', 'cursor'].includes(name) && name !== '')
  .map(([name, value]) => ({ name, value, bad: false }));

export const listQuery: fc.Arbitrary<ListQueryCase> = fc
  .tuple(
    fc.option(statusParam, { nil: undefined }),
    fc.option(typeParam, { nil: undefined }),
    fc.option(limitParam, { nil: undefined }),
    fc.option(cursorParam, { nil: undefined }),
    fc.array(unknownParam, { maxLength: 2 }),
    fc.constantFrom<'once' | 'twice'>('once', 'once', 'once', 'twice'),
  )
  .map(([status, type, limit, cursor, unknown, repeat]) => {
    const known = [status, type, limit, cursor].filter((p): p is Param => p !== undefined);
    const params: Param[] = [...known, ...unknown];
    // An unknown type is named task_type even when it came as the alias type.
    let badParams = known.filter((p) => p.bad).map((p) => (p.name === 'type' ? 'task_type' : p.name));
    // A known parameter given twice arrives as a list: "give it once", under the name it came as
    // (its values are then not looked at).
    if (repeat === 'twice' && known.length > 0) {
      const twice = known[0]!;
      params.push({ ...twice });
      if (twice.name === 'type') badParams = badParams.filter((name) => name !== 'task_type');
      badParams.push(twice.name);
    }
    const query = params.map((p) => `${encodeURIComponent(p.name)}=${encodeURIComponent(p.value)}`).join('&');
    return { query, badParams: [...new Set(badParams)], statuses: status?.statuses, types: type?.types, limit: limit?.limit };
  });

// ------------------------------------------------------------------------------- paths and headers

/** Task ids as a client might put them in a URL: percent-encoded, path syntax, huge, unicode. */
export const pathId: fc.Arbitrary<{ segment: string; decoded: string | null }> = fc.oneof(
  fc.oneof(trickyString, clientIdPrefix, fc.uuid(), fc.constantFrom('..', '.', '..%2F..%2Fstats', 'stats', 'tasks', 'batch'))
    // . and .. are resolved away by URL rules.
    .filter((s) => wellFormed(s) && s !== '' && s !== '.' && s !== '..')
    .map((s) => ({ segment: encodeURIComponent(s), decoded: s })),
  fc.constantFrom('%', '%E0%A4%A', '%ZZ', '%C0%AF', '%FF').map((segment) => ({ segment, decoded: null })),
  fc.constantFrom(1000, 8000).map((n) => ({ segment: 'a'.repeat(n), decoded: 'a'.repeat(n) })),
);

/** A header that is a legal HTTP token name with a visible-ASCII value: must never change the answer. */
export const harmlessHeader: fc.Arbitrary<[string, string]> = fc.tuple(
  fc.oneof(
    fc.constantFrom('Accept', 'Accept-Encoding', 'Accept-Language', 'User-Agent', 'Origin', 'Referer', 'Cookie', 'X-Request-Id', 'X-Forwarded-For', 'If-None-Match', 'Range', 'Cache-Control'),
    fc.stringMatching(/^X-[A-Za-z0-9-]{1,20}$/),
  ),
  fc.oneof(
    fc.constantFrom('*/*', 'text/html', 'application/xml;q=0.9', 'image/*', 'bytes=0-1', '../../etc', '${jndi:ldap://x}', '() { :; }; echo', 'x'.repeat(4000)),
    fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,60}[\x21-\x7e])?$/),
  ),
);

/** Header lines Node's parser may refuse (control bytes, bad names, obs-text): any 4xx, never a 5xx. */
export const hostileHeader: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(fc.constantFrom('X-Bad Name', 'X-Bad:Name', '', 'X-(', 'Ä'), fc.constant('v')),
  fc.tuple(fc.constant('X-Ctl'), fc.constantFrom('\u0001', 'a\u0000b', '\u007f', 'a\u001bb')),
  fc.tuple(fc.constant('X-Latin1'), fc.constantFrom('\u00e9', '\u00ff\u0080')),
  fc.tuple(fc.constant('Content-Length'), fc.constantFrom('abc', '-1', '1.5', '99999999999999999999999')),
  fc.tuple(fc.constant('Transfer-Encoding'), fc.constantFrom('gzip', 'bogus', 'chunked, identity')),
  fc.tuple(fc.constant('Expect'), fc.constantFrom('200-ok', 'bogus')),
);

/** Values for Authorization and X-API-Key that are never the right key. */
export const wrongCredential: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(fc.constant('Authorization'), fc.oneof(
    fc.constantFrom('', 'Bearer', 'Bearer ', 'bearer  ', 'Basic', 'Basic !!!', 'Basic Og==', 'Digest x', 'Bearer\tx', 'Token abc', 'Bearer a b c'),
    fc.stringMatching(/^[\x21-\x7e]{1,80}$/).map((value) => `Bearer ${value}`),
    fc.stringMatching(/^[\x21-\x7e]{1,80}$/).map((value) => `Basic ${Buffer.from(`user:${value}`).toString('base64')}`),
    fc.constant(`Bearer ${'k'.repeat(8000)}`),
  )),
  fc.tuple(fc.constant('X-API-Key'), fc.oneof(fc.constantFrom('', ' ', 'null', 'undefined', '*'), fc.stringMatching(/^[\x21-\x7e]{1,80}$/), fc.constant('k'.repeat(8000)))),
);
