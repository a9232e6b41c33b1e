// The data_processing pipeline without the engine: every op of the table, its edge cases (missing
// fields, no coercion, nulls in sort), the memory bounds, and field names that cannot reach a prototype.
import { describe, expect, it } from '@jest/globals';
import { DataProcessingPayload } from '@taskengine/executors/data-processing/payload';
import { buildPipeline } from '@taskengine/executors/data-processing/pipeline';

type Row = Record<string, unknown>;
const LIMITS = { maxBufferedItems: 10_000, maxGroups: 100 };

/** Parses `operations` as a payload would be, runs them over `rows`, and collects the output. */
async function run(rows: Row[], operations: unknown[], limits = LIMITS): Promise<Row[]> {
  const payload = DataProcessingPayload.parse({ items: rows, operations });
  const out: Row[] = [];
  for await (const row of buildPipeline(payload.operations, limits)(toAsync(rows))) out.push(row);
  return out;
}

async function* toAsync(rows: Row[], pulled?: { n: number }): AsyncGenerator<Row> {
  for (const row of rows) {
    if (pulled) pulled.n += 1;
    yield row;
  }
}

const schemaProblems = (operations: unknown[]): string[] => {
  const result = DataProcessingPayload.safeParse({ items: [], operations });
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

const people: Row[] = [
  { name: 'ann', age: 31, city: 'Paris', tags: ['admin', 'dev'], user: { level: 3 } },
  { name: 'bob', age: 25, city: 'Lyon', tags: ['dev'], user: { level: 1 } },
  { name: 'cid', age: '40', city: 'Paris', user: { level: 2 } },
  { name: 'dee', age: null, city: 'Nice', tags: [] },
  { name: 'eve', age: 25, city: 'Lyon', user: { level: 5 } },
];
const names = (rows: Row[]): unknown[] => rows.map((r) => r.name);
const where = (field: string, op: string, value?: unknown) => [{ op: 'filter', where: { field, op, ...(value === undefined ? {} : { value }) } }];

describe('filter', () => {
  it.each([
    ['eq', 'city', 'Paris', ['ann', 'cid']],
    ['ne', 'city', 'Paris', ['bob', 'dee', 'eve']],
    ['eq', 'age', 25, ['bob', 'eve']],
    ['eq', 'age', '25', []],
    ['gt', 'age', 25, ['ann']],
    ['gte', 'age', 25, ['ann', 'bob', 'eve']],
    ['lt', 'age', 31, ['bob', 'eve']],
    ['lte', 'age', 31, ['ann', 'bob', 'eve']],
    ['gt', 'name', 'cid', ['dee', 'eve']],
    ['in', 'city', ['Nice', 'Lyon'], ['bob', 'dee', 'eve']],
    ['contains', 'city', 'ar', ['ann', 'cid']],
    ['contains', 'tags', 'dev', ['ann', 'bob']],
    ['exists', 'tags', true, ['ann', 'bob', 'dee']],
    ['exists', 'tags', false, ['cid', 'eve']],
    ['exists', 'age', undefined, ['ann', 'bob', 'cid', 'dee', 'eve']],
    ['gte', 'user.level', 2, ['ann', 'cid', 'eve']],
    ['eq', 'user', { level: 1 }, ['bob']],
  ])('%s on %s %j', async (op, fieldName, value, expected) => {
    expect(names(await run(people, where(fieldName, op, value)))).toEqual(expected);
  });

  it('never coerces: numbers compare with numbers, strings with strings', async () => {
    expect(names(await run(people, where('age', 'gt', '30')))).toEqual(['cid']);
  });
});

describe('select and rename', () => {
  it('select keeps the named fields under their names, skipping missing ones', async () => {
    expect(await run(people.slice(0, 2), [{ op: 'select', fields: ['name', 'user.level', 'nope'] }])).toEqual([
      { name: 'ann', 'user.level': 3 },
      { name: 'bob', 'user.level': 1 },
    ]);
  });

  it('a selected dotted name reads back as a field', async () => {
    const out = await run(people, [{ op: 'select', fields: ['name', 'user.level'] }, ...where('user.level', 'gt', 2)]);
    expect(names(out)).toEqual(['ann', 'eve']);
  });

  it('rename keeps a top-level field in place and moves a nested one to the top', async () => {
    const out = await run([{ a: 1, b: 2, n: { x: 3, y: 4 } }], [{ op: 'rename', fields: { a: 'alpha', 'n.x': 'x' } }]);
    expect(out).toEqual([{ alpha: 1, b: 2, n: { y: 4 }, x: 3 }]);
    expect(Object.keys(out[0]!)).toEqual(['alpha', 'b', 'n', 'x']);
  });

  it('rename leaves rows without the field alone and never changes the input', async () => {
    const input = [{ b: 1, n: { x: 1 } }];
    expect(await run(input, [{ op: 'rename', fields: { a: 'z', 'n.x': 'x' } }])).toEqual([{ b: 1, n: {}, x: 1 }]);
    expect(input).toEqual([{ b: 1, n: { x: 1 } }]);
  });
});

describe('sort', () => {
  it('sorts ascending by default, descending on request, missing values last either way', async () => {
    expect(names(await run(people, [{ op: 'sort', by: 'age' }]))).toEqual(['bob', 'eve', 'ann', 'cid', 'dee']);
    expect(names(await run(people, [{ op: 'sort', by: 'age', order: 'desc' }]))).toEqual(['cid', 'ann', 'bob', 'eve', 'dee']);
  });

  it('sorts by several fields, stably', async () => {
    expect(names(await run(people, [{ op: 'sort', by: ['city', 'age'] }]))).toEqual(['bob', 'eve', 'dee', 'ann', 'cid']);
    expect(names(await run(people, [{ op: 'sort', by: 'city', order: 'desc' }]))).toEqual(['ann', 'cid', 'dee', 'bob', 'eve']);
  });

  it('sort + offset + limit keeps only what it needs and agrees with a full sort', async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ i, v: (i * 7919) % 10_007 }));
    const top = await run(rows, [{ op: 'sort', by: 'v', order: 'desc' }, { op: 'offset', n: 5 }, { op: 'limit', n: 10 }]);
    const expected = [...rows].sort((a, b) => b.v - a.v || a.i - b.i).slice(5, 15);
    expect(top).toEqual(expected);
  });

  it('refuses to buffer more than max_buffered_items', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => ({ i }));
    await expect(run(rows, [{ op: 'sort', by: 'i' }], { maxBufferedItems: 20, maxGroups: 10 })).rejects.toMatchObject({ code: 'too_many_items', retryable: false });
  });
});

describe('group_by', () => {
  it('aggregates per group, in first-seen order', async () => {
    const out = await run(people, [
      {
        op: 'group_by',
        by: 'city',
        aggregations: {
          n: { fn: 'count' },
          with_age: { fn: 'count', field: 'age' },
          total: { fn: 'sum', field: 'age' },
          mean: { fn: 'avg', field: 'age' },
          youngest: { fn: 'min', field: 'age' },
          oldest: { fn: 'max', field: 'name' },
        },
      },
    ]);
    expect(out).toEqual([
      { city: 'Paris', n: 2, with_age: 2, total: 31, mean: 31, youngest: 31, oldest: 'cid' },
      { city: 'Lyon', n: 2, with_age: 2, total: 50, mean: 25, youngest: 25, oldest: 'eve' },
      { city: 'Nice', n: 1, with_age: 0, total: 0, mean: null, youngest: null, oldest: 'dee' },
    ]);
  });

  it('groups by several fields; a missing value is the null group', async () => {
    const out = await run(people, [{ op: 'group_by', by: ['city', 'user.level'], aggregations: { n: { fn: 'count' } } }, { op: 'filter', where: { field: 'user.level', op: 'eq', value: null } }]);
    expect(out).toEqual([{ city: 'Nice', 'user.level': null, n: 1 }]);
  });

  it('without by, gives one row of totals, even over no rows', async () => {
    expect(await run(people, [{ op: 'group_by', aggregations: { n: { fn: 'count' }, s: { fn: 'sum', field: 'age' } } }])).toEqual([{ n: 5, s: 81 }]);
    expect(await run([], [{ op: 'group_by', aggregations: { n: { fn: 'count' } } }])).toEqual([{ n: 0 }]);
  });

  it('refuses more than max_groups groups', async () => {
    const rows = Array.from({ length: 11 }, (_, i) => ({ i }));
    await expect(run(rows, [{ op: 'group_by', by: 'i' }], { maxBufferedItems: 100, maxGroups: 10 })).rejects.toMatchObject({ code: 'too_many_items' });
  });
});

describe('distinct, offset, limit', () => {
  it('distinct by fields keeps the first row of each key', async () => {
    expect(names(await run(people, [{ op: 'distinct', by: 'city' }]))).toEqual(['ann', 'bob', 'dee']);
    expect(names(await run(people, [{ op: 'distinct', by: ['city', 'age'] }]))).toEqual(['ann', 'bob', 'cid', 'dee']);
  });

  it('distinct without by compares whole rows, whatever their key order', async () => {
    expect(await run([{ a: 1, b: 2 }, { b: 2, a: 1 }, { a: 1 }], [{ op: 'distinct' }])).toEqual([{ a: 1, b: 2 }, { a: 1 }]);
  });

  it('refuses more than max_groups distinct keys', async () => {
    const rows = Array.from({ length: 11 }, (_, i) => ({ i }));
    await expect(run(rows, [{ op: 'distinct' }], { maxBufferedItems: 100, maxGroups: 10 })).rejects.toMatchObject({ code: 'too_many_items' });
  });

  it('offset skips, limit takes', async () => {
    expect(names(await run(people, [{ op: 'offset', n: 1 }, { op: 'limit', n: 2 }]))).toEqual(['bob', 'cid']);
    expect(await run(people, [{ op: 'limit', n: 0 }])).toEqual([]);
    expect(await run(people, [{ op: 'offset', n: 10 }])).toEqual([]);
  });

  it('limit stops pulling from the source', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ i }));
    const pulled = { n: 0 };
    const payload = DataProcessingPayload.parse({ items: [], operations: [{ op: 'filter', where: { field: 'i', op: 'gte', value: 10 } }, { op: 'limit', n: 3 }] });
    const out: Row[] = [];
    for await (const row of buildPipeline(payload.operations, LIMITS)(toAsync(rows, pulled))) out.push(row);
    expect(out).toEqual([{ i: 10 }, { i: 11 }, { i: 12 }]);
    expect(pulled.n).toBe(13);
  });
});

describe('field names cannot reach a prototype', () => {
  it.each([['__proto__'], ['a.__proto__'], ['constructor'], ['x.prototype'], ['a..b'], ['.a']])('refuses the field name %j', (name) => {
    expect(schemaProblems([{ op: 'select', fields: [name] }])).toHaveLength(1);
    expect(schemaProblems(where(name, 'exists'))).toHaveLength(1);
    expect(schemaProblems([{ op: 'sort', by: name }])).toHaveLength(1);
  });

  it('refuses reserved names as rename targets and aggregation names', () => {
    expect(schemaProblems([{ op: 'rename', fields: { a: 'constructor' } }]).length).toBeGreaterThan(0);
    expect(schemaProblems([{ op: 'group_by', aggregations: { constructor: { fn: 'count' } } }]).length).toBeGreaterThan(0);
  });

  it('data with __proto__ keys or values passes through as plain data', async () => {
    const rows = JSON.parse('[{"__proto__": {"polluted": true}, "k": "__proto__"}, {"k": "__proto__"}, {"k": "constructor"}]') as Row[];
    const out = await run(rows, [
      { op: 'filter', where: { field: 'polluted', op: 'exists', value: false } },
      { op: 'group_by', by: 'k', aggregations: { n: { fn: 'count' } } },
    ]);
    expect(out).toEqual([{ k: '__proto__', n: 2 }, { k: 'constructor', n: 1 }]);
    const renamed = await run(rows.slice(0, 1), [{ op: 'rename', fields: { k: 'key' } }, { op: 'select', fields: ['key', 'polluted'] }]);
    expect(renamed).toEqual([{ key: '__proto__' }]);
    expect(({} as Row).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out[0])).toBe(Object.prototype);
  });
});

describe('schema', () => {
  it('refuses an unknown op, naming where', () => {
    expect(schemaProblems([{ op: 'eval', code: '1+1' }])).toEqual([expect.stringMatching(/^operations\.0\.op: Invalid discriminator/)]);
  });

  it('checks filter values by op', () => {
    expect(schemaProblems(where('a', 'in', 'x'))).toEqual([expect.stringMatching(/^operations\.0\.where\.value: /)]);
    expect(schemaProblems(where('a', 'gt', { x: 1 }))).toHaveLength(1);
    expect(schemaProblems(where('a', 'eq'))).toHaveLength(1);
    expect(schemaProblems(where('a', 'exists', 'yes'))).toHaveLength(1);
    expect(schemaProblems(where('a', 'eq', null))).toEqual([]);
  });

  it('needs a field for every aggregation but count', () => {
    expect(schemaProblems([{ op: 'group_by', by: 'a', aggregations: { s: { fn: 'sum' } } }])).toHaveLength(1);
    expect(schemaProblems([{ op: 'group_by', by: 'a', aggregations: { a: { fn: 'count' } } }])).toHaveLength(1);
  });

  it('needs exactly one of items and source, and a source format it can tell', () => {
    const problems = (payload: Record<string, unknown>) => DataProcessingPayload.safeParse(payload).error?.issues.map((i) => i.path.join('.')) ?? [];
    expect(problems({})).toEqual(['items']);
    expect(problems({ items: [], source: { file: 'a.json' } })).toEqual(['items']);
    expect(problems({ source: { file: 'data.txt' } })).toEqual(['source.format']);
    expect(problems({ source: { file: 'data.txt', format: 'csv' } })).toEqual([]);
    expect(problems({ source: { file: 'a.json', cast: false } })).toEqual(['source.cast']);
    expect(problems({ source: { file: '../a.json' } })).toEqual(['source.file']);
    expect(problems({ items: [1] })).toEqual(['items.0']);
    expect(problems({ items: [], destination: { file: '.' } })).toEqual(['destination.file']);
  });
});
