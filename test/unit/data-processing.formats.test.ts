// data_processing readers and writers on bytes: chunk boundaries anywhere (even inside a UTF-8
// character), CSV casting, bad input as invalid_input, oversized items as item_too_large, and the
// three output formats.
import { describe, expect, it } from '@jest/globals';
import { readRows } from '@taskengine/executors/data-processing/readers';
import { render } from '@taskengine/executors/data-processing/writers';

type Row = Record<string, unknown>;
type Format = 'json' | 'ndjson' | 'csv';

/** The text in chunks of `size` bytes, so records and characters straddle chunk boundaries. */
async function* chunked(text: string, size = 3): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function read(text: string, format: Format, { cast = true, maxItemBytes = 1 << 20, size = 3 } = {}): Promise<{ rows: Row[]; items: number }> {
  const stats = { items: 0 };
  const rows: Row[] = [];
  for await (const row of readRows(chunked(text, size), format, { path: 'src', cast, maxItemBytes, stats })) rows.push(row);
  return { rows, items: stats.items };
}

async function text(rows: Row[], format: Format): Promise<{ text: string; items: number }> {
  const stats = { items: 0 };
  let out = '';
  for await (const chunk of render(rows, format, stats)) out += chunk;
  return { text: out, items: stats.items };
}

describe('readers', () => {
  it('ndjson: one object a line, blank lines and CRLF tolerated, no final newline needed', async () => {
    expect(await read('{"a":"é"}\r\n\n  {"a":2}\n{"a":3}', 'ndjson')).toEqual({ rows: [{ a: 'é' }, { a: 2 }, { a: 3 }], items: 3 });
  });

  it('json: the elements of a top-level array', async () => {
    expect(await read(' [ {"a": "ü"}, {"b": [1, {"c": null}]} ] ', 'json')).toEqual({ rows: [{ a: 'ü' }, { b: [1, { c: null }] }], items: 2 });
    expect((await read('[]', 'json')).rows).toEqual([]);
  });

  it('csv: the first record names the columns; numbers are cast unless cast is false', async () => {
    const csv = 'name,age,zip,,note\nann,31,01234,x,"a, ""quoted"" text"\nbob,-1.5e2,,y,1e999\n';
    expect((await read(csv, 'csv')).rows).toEqual([
      { name: 'ann', age: 31, zip: 1234, column_4: 'x', note: 'a, "quoted" text' },
      { name: 'bob', age: -150, zip: '', column_4: 'y', note: '1e999' },
    ]);
    expect((await read(csv, 'csv', { cast: false })).rows[0]).toEqual({ name: 'ann', age: '31', zip: '01234', column_4: 'x', note: 'a, "quoted" text' });
    expect((await read('\uFEFFa,b\n0x10,12abc\n', 'csv')).rows).toEqual([{ a: '0x10', b: '12abc' }]);
  });

  it.each<[string, Format, RegExp]>([
    ['{"a":1}\nnot json\n', 'ndjson', /line 2: not valid JSON/],
    ['[1,2]\n', 'ndjson', /line 1: not a JSON object/],
    ['{"a":1}', 'json', /array/],
    ['[{"a":1}, 7]', 'json', /item 1: not a JSON object/],
    ['[{"a":1},', 'json', /./],
    ['a,b\n1,2,3\n', 'csv', /./],
  ])('refuses %j as %s with invalid_input', async (input, format, message) => {
    await expect(read(input, format)).rejects.toMatchObject({ code: 'invalid_input', retryable: false, message: expect.stringMatching(message) });
  });

  it.each<Format>(['ndjson', 'csv', 'json'])('accepts many items just under max_item_bytes in %s', async (format) => {
    const rows = Array.from({ length: 200 }, (_, i) => ({ a: `${i}`.padEnd(900, 'x') }));
    const input = (await text(rows, format)).text;
    expect(await read(input, format, { maxItemBytes: 1000, size: 65_536 })).toEqual({ rows, items: 200 });
  });

  it.each<[Format, string]>([
    ['ndjson', `{"a":"${'x'.repeat(5000)}"}\n`],
    ['csv', `a\n"${'x'.repeat(5000)}"\n`],
    ['json', `[{"a":"${'x'.repeat(400_000)}"}]`],
  ])('refuses an item over max_item_bytes in %s', async (format, input) => {
    await expect(read(input, format, { maxItemBytes: 1000, size: 256 })).rejects.toMatchObject({ code: 'item_too_large' });
  });
});

describe('writers', () => {
  const rows = [{ a: 1, b: 'x,y', c: { d: true } }, { a: 2, extra: 'dropped in csv' }];

  it('json: an array, one item a line', async () => {
    const out = await text(rows, 'json');
    expect(JSON.parse(out.text)).toEqual(rows);
    expect(out.items).toBe(2);
    expect((await text([], 'json')).text).toBe('[]\n');
  });

  it('ndjson: one item a line', async () => {
    expect((await text(rows, 'ndjson')).text).toBe(`${JSON.stringify(rows[0])}\n${JSON.stringify(rows[1])}\n`);
  });

  it('csv: columns from the first row, quoting, nested values as JSON', async () => {
    expect((await text(rows, 'csv')).text).toBe('a,b,c\n1,"x,y","{""d"":true}"\n2,,\n');
    expect((await text([], 'csv')).text).toBe('');
  });
});
