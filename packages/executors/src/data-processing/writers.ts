// Output rendering, streaming: rows in, text chunks out (batched to about 64 KiB, so a big output is
// written in few calls). CSV columns come from the first row (a select before fixes them); later
// rows' extra fields are left out, missing ones are empty; nested values are written as JSON.
import { stringify as csvLine } from 'csv-stringify/sync';
import { isMissing, type Row } from './fields.js';
import type { Format } from './payload.js';

const BATCH_CHARS = 65_536;

export interface RenderStats {
  items: number;
}

type Renderer = (row: Row, first: boolean) => string;

function csvRenderer(): Renderer {
  let columns: string[] = [];
  const cell = (value: unknown): string =>
    isMissing(value) ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return (row, first) => {
    let text = '';
    if (first) {
      columns = Object.keys(row);
      text = csvLine([columns]);
    }
    return text + csvLine([columns.map((name) => cell(Object.hasOwn(row, name) ? row[name] : undefined))]);
  };
}

const RENDERERS: Record<Format, () => Renderer> = {
  json: () => (row, first) => `${first ? '[\n' : ',\n'}${JSON.stringify(row)}`,
  ndjson: () => (row) => `${JSON.stringify(row)}\n`,
  csv: csvRenderer,
};

/** The text of `rows` in `format`; `stats.items` counts the rows written. */
export async function* render(rows: AsyncIterable<Row> | Iterable<Row>, format: Format, stats: RenderStats): AsyncGenerator<string> {
  const line = RENDERERS[format]();
  let batch = '';
  for await (const row of rows) {
    batch += line(row, stats.items === 0);
    stats.items += 1;
    if (batch.length >= BATCH_CHARS) {
      yield batch;
      batch = '';
    }
  }
  if (format === 'json') batch += stats.items === 0 ? '[]\n' : '\n]\n';
  if (batch) yield batch;
}
