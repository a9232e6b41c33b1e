// data_processing through the real API and an in-process worker on real Redis: inline items, file
// sources in each format, output formats, destination files, the inline output cap, and refusals at
// creation (unknown op, reserved field names, paths) and at run time (missing file, link leading out).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, type Engine } from '../support/harness.js';
import { expectCompleted, expectFailure, expectRejected, makeSandbox, SECRET, type Sandbox } from '../support/files.js';

const TYPE = 'data_processing';
let engine: Engine;
let box: Sandbox;

const orders = [
  { id: 1, customer: { name: 'ann', country: 'FR' }, total: 30, status: 'paid' },
  { id: 2, customer: { name: 'bob', country: 'DE' }, total: 12.5, status: 'open' },
  { id: 3, customer: { name: 'ann', country: 'FR' }, total: 7, status: 'paid' },
  { id: 4, customer: { name: 'cid', country: 'FR' }, total: 55, status: 'paid' },
];

beforeAll(async () => {
  box = makeSandbox('dataproc');
  engine = await startEngine({
    label: 'dataproc',
    overrides: {
      executors: { file_operation: { root: box.root }, data_processing: { max_inline_output_bytes: 4096 } },
    },
    worker: { types: ['data_processing'], concurrency: 4 },
  });
  writeFileSync(join(box.root, 'orders.json'), JSON.stringify(orders));
  writeFileSync(join(box.root, 'orders.ndjson'), orders.map((o) => JSON.stringify(o)).join('\n') + '\n');
  writeFileSync(join(box.root, 'orders.csv'), 'id,name,country,total,status\n1,ann,FR,30,paid\n2,bob,DE,12.5,open\n3,ann,FR,7,paid\n4,cid,FR,55,paid\n');
  writeFileSync(join(box.root, 'orders.dat'), orders.map((o) => JSON.stringify(o)).join('\n'));
  symlinkSync(box.secret, join(box.root, 'secret.ndjson'));
});
afterAll(async () => {
  await engine.stop();
  box.cleanup();
});

const ok = (payload: Record<string, unknown>) => expectCompleted(engine, TYPE, payload);
const revenueByName = [
  { op: 'filter', where: { field: 'status', op: 'eq', value: 'paid' } },
  { op: 'group_by', by: 'name', aggregations: { orders: { fn: 'count' }, revenue: { fn: 'sum', field: 'total' } } },
  { op: 'sort', by: 'revenue', order: 'desc' },
];
const expectedRevenue = [{ name: 'cid', orders: 1, revenue: 55 }, { name: 'ann', orders: 2, revenue: 37 }];

describe('inline items', () => {
  it('runs a pipeline and returns the items inline', async () => {
    const result = await ok({
      items: orders,
      operations: [{ op: 'rename', fields: { 'customer.name': 'name' } }, ...revenueByName],
    });
    expect(result).toEqual({ processed_items: 4, output_format: 'json', items: expectedRevenue });
  });

  it('with no operations, returns the items as given', async () => {
    expect(await ok({ items: orders })).toEqual({ processed_items: 4, output_format: 'json', items: orders });
  });

  it('renders csv and ndjson inline as output text beside the items', async () => {
    const select = [{ op: 'select', fields: ['id', 'customer.name'] }, { op: 'limit', n: 2 }];
    expect(await ok({ items: orders, operations: select, format: 'csv' })).toEqual({
      processed_items: 2, output_format: 'csv', items: [{ id: 1, 'customer.name': 'ann' }, { id: 2, 'customer.name': 'bob' }],
      output: 'id,customer.name\n1,ann\n2,bob\n',
    });
    expect((await ok({ items: orders, operations: select, format: 'ndjson' })).output).toBe('{"id":1,"customer.name":"ann"}\n{"id":2,"customer.name":"bob"}\n');
  });

  it('fails an inline output over max_inline_output_bytes, pointing to destination', async () => {
    const many = Array.from({ length: 200 }, (_, i) => ({ i, text: 'some words to fill the output' }));
    const task = await expectFailure(engine, TYPE, { items: many }, 'output_too_large');
    expect(task.error).toMatch(/destination/);
  });

  it('refuses __proto__ in inline data (the API refuses it anywhere in a body) and as a field name', async () => {
    const hostile = JSON.parse('[{"__proto__": {"admin": true}, "name": "x"}, {"name": "y"}]');
    await expectRejected(engine, TYPE, { items: hostile, operations: [] }, 'payload.items[0].__proto__');
    const items = [{ name: 'x' }, { name: 'y' }];
    await expectRejected(engine, TYPE, { items, operations: [{ op: 'select', fields: ['__proto__'] }] }, 'payload.operations[0].fields[0]');
    await expectRejected(engine, TYPE, { items, operations: [{ op: 'filter', where: { field: 'constructor.prototype', op: 'exists' } }] }, 'payload.operations[0].where.field');
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});

describe('file sources', () => {
  it.each([['orders.json'], ['orders.ndjson']])('reads %s, its format from the extension', async (file) => {
    const result = await ok({ source: { file }, operations: [{ op: 'rename', fields: { 'customer.name': 'name' } }, ...revenueByName] });
    expect(result).toEqual({ processed_items: 4, output_format: 'json', items: expectedRevenue });
  });

  it('reads csv, casting numbers', async () => {
    expect(await ok({ source: { file: 'orders.csv' }, operations: revenueByName })).toMatchObject({ items: expectedRevenue });
  });

  it('keeps csv fields as strings with cast: false', async () => {
    const result = await ok({ source: { file: 'orders.csv', cast: false }, operations: [{ op: 'limit', n: 1 }] });
    expect(result.items).toEqual([{ id: '1', name: 'ann', country: 'FR', total: '30', status: 'paid' }]);
  });

  it('takes the format from the payload when the extension does not tell', async () => {
    expect(await ok({ source: { file: 'orders.dat', format: 'ndjson' }, operations: [{ op: 'group_by', aggregations: { n: { fn: 'count' } } }] })).toMatchObject({ items: [{ n: 4 }] });
    await expectRejected(engine, TYPE, { source: { file: 'orders.dat' } }, 'payload.source.format');
  });

  it('counts only the items it read when a limit stops early', async () => {
    expect(await ok({ source: { file: 'orders.ndjson' }, operations: [{ op: 'limit', n: 1 }] })).toMatchObject({ processed_items: 1 });
  });

  it('fails a missing source with not_found, without retry', async () => {
    await expectFailure(engine, TYPE, { source: { file: 'nope.json' } }, 'not_found');
  });

  it('fails a source that is not valid with invalid_input', async () => {
    writeFileSync(join(box.root, 'broken.ndjson'), '{"a":1}\n{oops\n');
    const task = await expectFailure(engine, TYPE, { source: { file: 'broken.ndjson' } }, 'invalid_input');
    expect(task.error).toMatch(/line 2/);
  });

  it('refuses a source link leading out of the root at run time, and ../ at creation', async () => {
    const task = await expectFailure(engine, TYPE, { source: { file: 'secret.ndjson' } }, 'path_outside_root');
    expect(JSON.stringify(task)).not.toContain('top secret');
    await expectRejected(engine, TYPE, { source: { file: '../secret.txt', format: 'ndjson' } }, 'payload.source.file');
    expect(readFileSync(box.secret, 'utf8')).toBe(SECRET);
  });
});

describe('destination files', () => {
  it.each([
    ['out/paid.csv', 'csv', 'id,name,total\n1,ann,30\n3,ann,7\n4,cid,55\n'],
    ['out/paid.ndjson', 'ndjson', '{"id":1,"name":"ann","total":30}\n{"id":3,"name":"ann","total":7}\n{"id":4,"name":"cid","total":55}\n'],
    ['out/paid.json', 'json', '[\n{"id":1,"name":"ann","total":30},\n{"id":3,"name":"ann","total":7},\n{"id":4,"name":"cid","total":55}\n]\n'],
  ])('writes %s as %s', async (file, format, content) => {
    const result = await ok({
      source: { file: 'orders.csv' },
      operations: [{ op: 'filter', where: { field: 'status', op: 'eq', value: 'paid' } }, { op: 'select', fields: ['id', 'name', 'total'] }],
      destination: { file },
    });
    expect(result).toEqual({ processed_items: 4, output_format: format, destination: file, written_items: 3, bytes_written: Buffer.byteLength(content) });
    expect(readFileSync(join(box.root, file), 'utf8')).toBe(content);
  });

  it('writes in the payload format whatever the extension, replacing the file atomically', async () => {
    writeFileSync(join(box.root, 'report.txt'), 'old report');
    const result = await ok({ items: orders, operations: [{ op: 'select', fields: ['id'] }], format: 'ndjson', destination: { file: 'report.txt' } });
    expect(result).toMatchObject({ output_format: 'ndjson', written_items: 4 });
    expect(readFileSync(join(box.root, 'report.txt'), 'utf8')).toBe('{"id":1}\n{"id":2}\n{"id":3}\n{"id":4}\n');
    expect(readdirSync(box.root).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('refuses a destination outside the root', async () => {
    await expectRejected(engine, TYPE, { items: orders, destination: { file: '../root-evil/x' } }, 'payload.destination.file');
    await expectRejected(engine, TYPE, { items: orders, destination: { file: '/tmp/x.json' } }, 'payload.destination.file');
    symlinkSync(box.sibling, join(box.root, 'evil-dir'));
    await expectFailure(engine, TYPE, { items: orders, destination: { file: 'evil-dir/x' } }, 'path_outside_root');
    expect(readFileSync(join(box.sibling, 'x'), 'utf8')).toBe(SECRET);
    expect(readdirSync(box.sibling)).toEqual(['x']);
  });
});

describe('payload schema (400 at creation)', () => {
  it('refuses an unknown op', async () => {
    await expectRejected(engine, TYPE, { items: [], operations: [{ op: 'eval', code: 'process.exit()' }] }, 'payload.operations[0].op');
  });

  it('refuses a step with fields its op does not take', async () => {
    await expectRejected(engine, TYPE, { items: [], operations: [{ op: 'limit', n: 1, by: 'x' }] }, 'payload.operations[0].by');
  });

  it('refuses both items and source, or neither', async () => {
    await expectRejected(engine, TYPE, { items: [], source: { file: 'orders.json' } }, 'payload.items');
    await expectRejected(engine, TYPE, {}, 'payload.items');
  });
});
