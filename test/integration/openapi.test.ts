// The OpenAPI document (GET /openapi.json) and the /docs page, through real HTTP on a real Redis: the
// document passes a real OpenAPI 3.1 validator, lists exactly the routes the Express app serves, shows
// every task type of the registry the app was built with, and real responses match the schemas it gives.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { TaskTypeDefinition } from '@taskengine/core';
import { createExecutorRegistry } from '@taskengine/executors';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { z } from 'zod';
import { startEngine, waitForStatus, type Engine, type HttpResult } from '../support/harness.js';
import { openSse } from '../support/sse-client.js';

const KEY = 'openapi-test-key-0123';
type Doc = { openapi: string; paths: Record<string, Record<string, any>>; components: Record<string, Record<string, any>> };

let engine: Engine;
let secured: Engine;
let doc: Doc;

beforeAll(async () => {
  engine = await startEngine({ label: 'openapi', worker: true });
  secured = await startEngine({
    label: 'openapi-keys',
    overrides: { auth: { api_keys: [KEY] }, server: { rate_limit: { enabled: true, window_seconds: 60, max: 10_000 } } },
  });
  doc = (await engine.request('GET', '/openapi.json')).body;
});
afterAll(async () => {
  await Promise.all([engine?.stop(), secured?.stop()]);
});

async function validateOpenApi(document: unknown): Promise<void> {
  const validator = new Validator();
  const result = await validator.validate(document as Record<string, unknown>);
  expect({ version: validator.version, errors: result.errors }).toEqual({ version: '3.1', errors: undefined });
  expect(result.valid).toBe(true);
}

/** `METHOD /path/{param}` for every route the app serves, walking Express 5's router stack. */
function servedRoutes(app: Engine['app']): string[] {
  const routes: string[] = [];
  const walk = (stack: any[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) routes.push(`${method.toUpperCase()} ${String(layer.route.path).replace(/:(\w+)/g, '{$1}')}`);
      } else if (layer.slash && Array.isArray(layer.handle?.stack)) {
        // A router mounted at the root (the routes' own files). The dashboard is mounted under its path
        // (not `slash`) and is a UI, not part of the REST API.
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as any).router.stack);
  // The page's assets are files, not API routes.
  return routes.filter((route) => !route.includes(' /docs/assets/')).sort();
}

const documentedRoutes = (document: Doc): string[] =>
  Object.entries(document.paths)
    .flatMap(([path, item]) => Object.keys(item).filter((key) => ['get', 'post', 'put', 'patch', 'delete'].includes(key)).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();

// ajv-formats is CommonJS: its default export arrives as the module object under NodeNext's typing.
const addFormats = ((addFormatsModule as any).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

/** Checks bodies against the document's own schemas (JSON Schema 2020-12, as OpenAPI 3.1 uses). */
function schemaChecker(document: Doc) {
  const id = 'https://taskengine.test/openapi.json';
  // strict: false lets OpenAPI's own keywords (discriminator) pass as annotations.
  const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
  ajv.addSchema({ $id: id, components: document.components });
  const compile = (schema: { $ref?: string }) => ajv.compile(schema.$ref ? { $ref: `${id}${schema.$ref}` } : schema);
  const check = (schema: { $ref?: string }, value: unknown) => {
    const validate = compile(schema);
    return validate(value) ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message}`);
  };
  return {
    /** The problems of `body` against a named component. */
    component: (name: string, value: unknown) => check({ $ref: `#/components/schemas/${name}` }, value),
    /** The problems of a real response against what the document says `method path` answers with its status. */
    response(method: string, path: string, res: HttpResult) {
      let response = document.paths[path]?.[method.toLowerCase()]?.responses?.[String(res.status)];
      if (!response) return [`${method} ${path} does not document status ${res.status}`];
      if (response.$ref) response = document.components.responses![response.$ref.split('/').pop()!];
      const schema = response.content?.['application/json']?.schema;
      if (!schema) return [`${method} ${path} ${res.status} has no JSON schema`];
      return check(schema, res.body);
    },
  };
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    await validateOpenApi(doc);
  });

  it('lists every route the app serves, and nothing it does not serve', () => {
    const served = servedRoutes(engine.app);
    expect(served).toEqual(expect.arrayContaining(['POST /tasks', 'GET /tasks/{id}', 'GET /openapi.json', 'GET /docs']));
    expect(documentedRoutes(doc)).toEqual(served);
  });

  it('is served, with /docs, without a key when keys are configured, and then declares them', async () => {
    expect((await secured.request('GET', '/tasks')).status).toBe(401);
    const res = await secured.request('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await secured.request('GET', '/docs')).status).toBe(200);
    const securedDoc = res.body as Doc;
    await validateOpenApi(securedDoc);
    expect(Object.keys(securedDoc.components.securitySchemes!)).toEqual(['bearerAuth', 'apiKeyHeader']);
    expect(securedDoc.components.securitySchemes!.apiKeyHeader).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
    const create = securedDoc.paths['/tasks']!.post;
    expect(create.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }]);
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '409', '413', '429', '503']));
    expect(securedDoc.paths['/health']!.get.security).toEqual([]);
    expect(securedDoc.paths['/tasks/{id}']!.get.responses['404']).toEqual({ $ref: '#/components/responses/NotFound' });
    // Without keys, the same routes take a key or none.
    expect(doc.paths['/tasks']!.post.security).toContainEqual({});
    expect(doc.paths['/tasks']!.post.responses['401']).toBeUndefined();
  });

  it('describes request bodies with the schemas the API validates them with', () => {
    const checker = schemaChecker(doc);
    const good = [
      { type: 'custom' },
      { type: 'custom', name: 'n', priority: 'high', config: { max_retries: 1, backoff: 'fixed' }, payload: { handler: 'sleep', duration_ms: 5 } },
      { type: 'custom', status: 'completed', task_id: 'old-clients-send-it' },
    ];
    for (const body of good) expect(checker.component('TaskCreate', body)).toEqual([]);
    for (const bad of [{ type: 'custom', colour: 'red' }, { type: 'custom', config: { retries: 2 } }, { type: 'nope' }, { type: 'custom', payload: { duration_ms: -1 } }]) {
      expect(checker.component('TaskCreate', bad)).not.toEqual([]);
    }
    expect(checker.component('TaskBatchCreate', { tasks: good })).toEqual([]);
    expect(checker.component('TaskBatchCreate', { tasks: [] })).not.toEqual([]);
    expect(doc.components.schemas!.TaskBatchCreate.properties.tasks.maxItems).toBe(engine.config.tasks.max_batch_size);
    const parameters = doc.paths['/tasks']!.get.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`);
    expect(parameters).toEqual(['query:status', 'query:task_type', 'query:type', 'query:limit', 'query:cursor']);
    expect(doc.paths['/tasks']!.get.parameters[3].schema).toEqual({ type: 'integer', minimum: 1, maximum: 1000, default: 100 });
  });

  it('answers what it documents: real responses match the response schemas', async () => {
    const checker = schemaChecker(doc);
    const expectValid = async (method: string, path: string, template: string, body?: unknown, status?: number) => {
      const res = await engine.request(method, path, body);
      if (status !== undefined) expect({ path, status: res.status }).toEqual({ path, status });
      expect({ method, path, status: res.status, problems: checker.response(method, template, res) }).toEqual({ method, path, status: res.status, problems: [] });
      return res;
    };
    const created = await expectValid('POST', '/tasks', '/tasks', { type: 'custom', id: 'openapi-1', payload: { greeting: 'hi' } }, 201);
    await expectValid('POST', '/tasks', '/tasks', { type: 'custom', id: 'openapi-1', payload: { greeting: 'hi' } }, 200);
    await expectValid('POST', '/tasks', '/tasks', { type: 'custom', id: 'openapi-1', payload: { greeting: 'other' } }, 409);
    await expectValid('POST', '/tasks', '/tasks', { type: 'custom', colour: 'red' }, 400);
    await expectValid('POST', '/tasks', '/tasks', '{"type": ', 400);
    await expectValid('POST', '/tasks/batch', '/tasks/batch', { tasks: [{ type: 'custom' }, { type: 'custom', delay_seconds: 3600 }] }, 201);
    await expectValid('POST', '/tasks/batch', '/tasks/batch', { tasks: [] }, 400);
    const done = await waitForStatus(engine, created.body.task_id, 'completed');
    expect(checker.component('TaskObject', done)).toEqual([]);
    await expectValid('GET', `/tasks/${created.body.task_id}`, '/tasks/{id}', undefined, 200);
    await expectValid('GET', '/tasks/nope', '/tasks/{id}', undefined, 404);
    await expectValid('GET', `/tasks/${created.body.task_id}/logs`, '/tasks/{id}/logs', undefined, 200);
    await expectValid('GET', '/tasks/nope/logs', '/tasks/{id}/logs', undefined, 404);
    // A stream's event data match the components the document names for them.
    const stream = await openSse(`${engine.baseUrl}/tasks/${created.body.task_id}/events`);
    await stream.ended;
    expect(Object.keys(doc.paths['/tasks/{id}/events']!.get.responses['200'].content)).toEqual(['text/event-stream']);
    expect(stream.events.map((e) => checker.component('TaskStatusEvent', e.data))).toEqual([[]]);
    expect(checker.component('TaskProgressEvent', { task_id: 'x', type: 'custom', progress: 50, at: done.completed_at })).toEqual([]);
    await expectValid('GET', '/tasks?limit=2', '/tasks', undefined, 200);
    await expectValid('GET', '/tasks?status=bogus', '/tasks', undefined, 400);
    const pending = await engine.request('POST', '/tasks', { type: 'custom', delay_seconds: 3600 });
    await expectValid('POST', `/tasks/${pending.body.task_id}/cancel`, '/tasks/{id}/cancel', undefined, 200);
    await expectValid('POST', `/tasks/${pending.body.task_id}/cancel`, '/tasks/{id}/cancel', undefined, 409);
    const workers = await expectValid('GET', '/workers', '/workers', undefined, 200);
    expect(workers.body.workers.length).toBeGreaterThan(0);
    await expectValid('GET', '/stats', '/stats', undefined, 200);
    await expectValid('GET', '/health', '/health', undefined, 200);
    // Error bodies on routes the document has no path for still follow ErrorBody.
    expect(checker.component('ErrorBody', (await engine.request('GET', '/nowhere')).body)).toEqual([]);
    const unauthorized = await secured.request('GET', '/stats');
    expect(checker.component('ErrorBody', unauthorized.body)).toEqual([]);
  });

  it('answers the /schedules routes as it documents them', async () => {
    const checker = schemaChecker(doc);
    const answer = async (method: string, path: string, template: string, status: number, body?: unknown) => {
      const res = await engine.request(method, path, body);
      expect({ method, path, status: res.status, problems: checker.response(method, template, res) }).toEqual({ method, path, status, problems: [] });
      return res;
    };
    const body = { name: 'documented', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', task: { type: 'custom', payload: { handler: 'echo' } } };
    expect(checker.component('ScheduleCreate', body)).toEqual([]);
    expect(checker.component('ScheduleCreate', { ...body, colour: 'red' })).not.toEqual([]);
    const { id } = (await answer('POST', '/schedules', '/schedules', 201, body)).body;
    await answer('POST', '/schedules', '/schedules', 400, { every_seconds: 0, task: { type: 'custom' } });
    await answer('GET', '/schedules', '/schedules', 200);
    await answer('GET', `/schedules/${id}`, '/schedules/{id}', 200);
    await answer('DELETE', `/schedules/${id}`, '/schedules/{id}', 200);
    await answer('DELETE', `/schedules/${id}`, '/schedules/{id}', 404);
  });
});

describe('retry and queue routes in the document', () => {
  it('answer what the document says, errors included', async () => {
    const checker = schemaChecker(doc);
    const expectValid = async (method: string, path: string, template: string, status: number) => {
      const res = await engine.request(method, path);
      expect({ method, path, status: res.status, problems: checker.response(method, template, res) }).toEqual({ method, path, status, problems: [] });
      return res;
    };
    const task = await engine.request('POST', '/tasks', { type: 'custom', delay_seconds: 3600 });
    await engine.request('POST', `/tasks/${task.body.task_id}/cancel`);
    await expectValid('POST', `/tasks/${task.body.task_id}/retry`, '/tasks/{id}/retry', 200);
    await expectValid('POST', `/tasks/${task.body.task_id}/retry`, '/tasks/{id}/retry', 409);
    await expectValid('POST', '/tasks/nope/retry', '/tasks/{id}/retry', 404);
    await expectValid('POST', '/tasks/retry?status=cancelled&task_type=custom&limit=5', '/tasks/retry', 200);
    await expectValid('POST', '/tasks/retry?status=completed', '/tasks/retry', 400);
    const queues = await expectValid('GET', '/queues', '/queues', 200);
    expect(queues.body.total).toBeGreaterThan(0);
    await expectValid('POST', '/queues/file_operation/pause', '/queues/{type}/pause', 200);
    await expectValid('POST', '/queues/file_operation/resume', '/queues/{type}/resume', 200);
    await expectValid('POST', '/queues/nope/pause', '/queues/{type}/pause', 400);
    const parameters = doc.paths['/tasks/retry']!.post.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`);
    expect(parameters).toEqual(['query:status', 'query:task_type', 'query:type', 'query:limit']);
  });
});

describe('task types in the document', () => {
  it('shows every type of the registry the app was built with, payloads with refinements and transforms included', async () => {
    const NetworkPayload = z
      .object({
        url: z.string().transform((text, ctx) => {
          try {
            return new URL(text);
          } catch {
            ctx.addIssue({ code: 'custom', message: 'not a URL' });
            return z.NEVER;
          }
        }),
        method: z.enum(['GET', 'POST']).default('GET'),
        not_before: z.date().optional(),
      })
      .superRefine((payload, ctx) => {
        if (payload.url.protocol !== 'https:' && payload.url.protocol !== 'http:') ctx.addIssue({ code: 'custom', path: ['url'], message: 'http or https only' });
      });
    const probe: TaskTypeDefinition = { type: 'network_request', payloadSchema: NetworkPayload, execute: async () => null };
    const local = await startEngine({ label: 'openapi-types', executors: { custom: createExecutorRegistry(engine.config).custom, network_request: probe } });
    try {
      const typed = (await local.request('GET', '/openapi.json')).body as Doc;
      await validateOpenApi(typed);
      const schemas = typed.components.schemas!;
      expect(schemas.NetworkRequestPayload).toMatchObject({
        type: 'object',
        properties: { url: { type: 'string' }, method: { enum: ['GET', 'POST'], default: 'GET' } },
        required: ['url'],
      });
      expect(schemas.NetworkRequestTaskCreate.properties.payload).toEqual({ $ref: '#/components/schemas/NetworkRequestPayload' });
      expect(schemas.TaskCreate.oneOf).toEqual([
        { $ref: '#/components/schemas/NetworkRequestTaskCreate' },
        { $ref: '#/components/schemas/CustomTaskCreate' },
      ]);
      expect(schemas.TaskCreate.discriminator).toEqual({
        propertyName: 'type',
        mapping: { network_request: '#/components/schemas/NetworkRequestTaskCreate', custom: '#/components/schemas/CustomTaskCreate' },
      });
      // The document and the API speak from the same schema.
      const checker = schemaChecker(typed);
      expect(checker.component('TaskCreate', { type: 'network_request', payload: { url: 'https://example.test/' } })).toEqual([]);
      expect(checker.component('TaskCreate', { type: 'network_request', payload: {} })).not.toEqual([]);
      const refused = await local.request('POST', '/tasks', { type: 'network_request', payload: { url: 'ftp://example.test/' } });
      expect(refused.status).toBe(400);
      expect(refused.body.error.details).toContainEqual({ path: 'payload.url', message: 'http or https only' });
      // A type not in the registry is in neither; the build's own registry documents all of its types.
      expect(schemas.AiInferencePayload).toBeUndefined();
      const built = Object.keys(createExecutorRegistry(engine.config)).map((type) => type.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase()));
      for (const name of built) expect(doc.components.schemas![`${name}Payload`]).toBeDefined();
    } finally {
      await local.stop();
    }
  });
});

describe('/docs', () => {
  it('is an HTML page whose scripts and styles all come from this server, and load', async () => {
    const res = await fetch(`${secured.baseUrl}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self'/);
    const html = await res.text();
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    const assets = [...html.matchAll(/<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets).toEqual(expect.arrayContaining(['/docs/assets/swagger-ui.css', '/docs/assets/swagger-ui-bundle.js', '/docs/assets/init.js']));
    for (const asset of assets) {
      expect(asset).toMatch(/^\/[^/]/);
      const loaded = await fetch(`${secured.baseUrl}${asset}`);
      expect({ asset, status: loaded.status }).toEqual({ asset, status: 200 });
      expect(loaded.headers.get('content-type')).toMatch(/^(text\/css|text\/javascript|application\/javascript|image\/png)/);
      await loaded.arrayBuffer();
    }
    const init = await (await fetch(`${secured.baseUrl}/docs/assets/init.js`)).text();
    expect(init).toContain("url: '/openapi.json'");
    expect(init).toContain('validatorUrl: null');
  });

  it('serves only the files the page uses: anything else under /docs/assets is a 404, key or not', async () => {
    for (const path of ['/docs/assets/index.html', '/docs/assets/swagger-initializer.js', '/docs/assets/..%2fpackage.json', '/docs/assets/nope.js']) {
      const res = await secured.request('GET', path);
      expect({ path, status: res.status, code: res.body?.error?.code }).toEqual({ path, status: 404, code: 'not_found' });
    }
  });
});
