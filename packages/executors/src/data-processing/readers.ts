// Source readers: a file's bytes (as chunks) to rows, one format each, streaming. Each keeps its
// working memory to about one item: NDJSON holds the current line, CSV the current record (csv-parse's
// max_record_size), JSON the current array element (stream-json assembles elements one by one). An item
// over max_item_bytes fails with item_too_large instead of growing without bound.
import { Readable, pipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { TaskError } from '@taskengine/core';
import { parse as csvParser } from 'csv-parse';
import streamArray from 'stream-json/streamers/stream-array.js';
import { fsError } from '../guards/fs-errors.js';
import { isRow, type Row } from './fields.js';
import type { Format } from './payload.js';

export interface ReadOptions {
  /** The source path as the payload named it, for messages. */
  path: string;
  cast: boolean;
  maxItemBytes: number;
  /** Counts the items read (the result's processed_items). */
  stats: { items: number };
}

type Reader = (chunks: AsyncIterable<Buffer>, options: ReadOptions) => AsyncGenerator<Row>;

const invalid = (path: string, where: string, why: string): TaskError =>
  new TaskError('invalid_input', `${path}${where}: ${why}`, { retryable: false });

const tooLarge = (path: string, where: string, limit: number): TaskError =>
  new TaskError('item_too_large', `${path}${where}: one item is over ${limit} bytes (executors.data_processing.max_item_bytes)`, { retryable: false });

const ndjson: Reader = async function* (chunks, options) {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let line = 0;
  const parse = (text: string): Row | undefined => {
    line += 1;
    const trimmed = text.trim();
    if (trimmed === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw invalid(options.path, ` line ${line}`, `not valid JSON (${(err as Error).message})`);
    }
    if (!isRow(value)) throw invalid(options.path, ` line ${line}`, 'not a JSON object');
    options.stats.items += 1;
    return value;
  };
  for await (const chunk of chunks) {
    pending += decoder.write(chunk);
    let start = 0;
    for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n', start)) {
      const row = parse(pending.slice(start, end));
      start = end + 1;
      if (row) yield row;
    }
    pending = pending.slice(start);
    if (pending.length > options.maxItemBytes) throw tooLarge(options.path, ` line ${line + 1}`, options.maxItemBytes);
  }
  const row = parse(pending + decoder.end());
  if (row) yield row;
};

/**
 * A top-level JSON array, element by element. The parser runs ahead of the consumer by a bounded amount
 * (one chunk in Readable.from, its write buffer, at most two elements queued at readableHighWaterMark 1),
 * so the item size check counts the bytes fed since the last element came out against a few times the
 * limit: approximate, but bounded.
 */
const json: Reader = async function* (chunks, options) {
  let sinceLastItem = 0;
  const budget = 4 * options.maxItemBytes + 262_144;
  async function* metered(): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      sinceLastItem += chunk.length;
      if (sinceLastItem > budget) throw tooLarge(options.path, '', options.maxItemBytes);
      yield chunk;
    }
  }
  const elements = pipeline(
    Readable.from(metered(), { objectMode: false }),
    // DuplexOptions reach the stream (stream-chain's asStream); its typings leave them out.
    streamArray.withParserAsStream({ readableHighWaterMark: 1 } as Parameters<typeof streamArray.withParserAsStream>[0]),
    () => {},
  );
  try {
    for await (const { key, value } of elements as AsyncIterable<{ key: number; value: unknown }>) {
      sinceLastItem = 0;
      if (!isRow(value)) throw invalid(options.path, ` item ${key}`, 'not a JSON object');
      options.stats.items += 1;
      yield value;
    }
  } finally {
    elements.destroy();
  }
};

/** A number as CSV text: optional sign, digits, optional fraction and exponent; nothing else (no hex, no blanks). */
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

const castCell = (text: string): unknown => {
  if (!NUMBER.test(text)) return text;
  const number = Number(text);
  return Number.isFinite(number) ? number : text;
};

/** The first record names the columns; an empty header cell becomes `column_<n>`. */
const csv: Reader = async function* (chunks, options) {
  const records = pipeline(
    Readable.from(chunks),
    csvParser({ bom: true, skip_empty_lines: true, max_record_size: options.maxItemBytes }),
    () => {},
  );
  try {
    let header: string[] | undefined;
    for await (const record of records as AsyncIterable<string[]>) {
      if (!header) {
        header = record.map((name, i) => name || `column_${i + 1}`);
        continue;
      }
      const columns = header;
      options.stats.items += 1;
      yield Object.fromEntries(record.map((cell, i) => [columns[i]!, options.cast ? castCell(cell) : cell]));
    }
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code === 'CSV_MAX_RECORD_SIZE') throw tooLarge(options.path, '', options.maxItemBytes);
    if (code.startsWith('CSV_')) throw invalid(options.path, '', (err as Error).message);
    throw err;
  } finally {
    records.destroy();
  }
};

const READERS: Record<Format, Reader> = { ndjson, json, csv };

/**
 * Rows of a file in `format`. Errors come out as task errors: parse errors as invalid_input, read
 * errors by their fs code, aborts as they are.
 */
export async function* readRows(chunks: AsyncIterable<Buffer>, format: Format, options: ReadOptions): AsyncGenerator<Row> {
  try {
    yield* READERS[format](chunks, options);
  } catch (err) {
    if (err instanceof TaskError || (err as Error | undefined)?.name === 'AbortError' || (err as { code?: unknown }).code) {
      throw fsError(err, options.path);
    }
    throw invalid(options.path, '', (err as Error | undefined)?.message ?? String(err));
  }
}
