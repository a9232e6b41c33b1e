// One data_processing run, without the engine around it (the child-process memory test drives it
// directly): open the source, stream it through the pipeline, and either write the output to a file
// atomically or return it inline within max_inline_output_bytes.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TaskError } from '@taskengine/core';
import { writeFileAtomic } from '../guards/atomic-write.js';
import { onPath } from '../guards/fs-errors.js';
import type { PathJail } from '../guards/path-jail.js';
import { openRegularFile, readChunks } from '../guards/regular-file.js';
import type { Row } from './fields.js';
import { outputFormat, sourceFormat, type DataProcessingPayload, type Format } from './payload.js';
import { buildPipeline } from './pipeline.js';
import { readRows } from './readers.js';
import { render } from './writers.js';

export interface DataLimits {
  maxInlineOutputBytes: number;
  maxBufferedItems: number;
  maxGroups: number;
  maxItemBytes: number;
}

export interface RunContext {
  jail: PathJail;
  limits: DataLimits;
  signal: AbortSignal;
  progress(percent: number): void;
}

export interface DataProcessingResult {
  processed_items: number;
  output_format: Format;
  items?: Row[];
  output?: string;
  destination?: string;
  written_items?: number;
  bytes_written?: number;
}

interface Source {
  rows: AsyncIterable<Row>;
  close(): Promise<void>;
}

const PROGRESS_EVERY = 1024;

async function openSource(payload: DataProcessingPayload, ctx: RunContext, stats: { items: number }): Promise<Source> {
  if (payload.source === undefined) {
    const items = payload.items ?? [];
    return {
      rows: (async function* () {
        for (const [index, row] of items.entries()) {
          if (index % PROGRESS_EVERY === 0) {
            ctx.signal.throwIfAborted();
            ctx.progress((index / items.length) * 100);
          }
          stats.items += 1;
          yield row;
        }
      })(),
      close: async () => {},
    };
  }
  const { file: path } = payload.source;
  const { format, cast } = sourceFormat(payload.source);
  const file = await openRegularFile(await ctx.jail.resolve(path, { followFinal: true }), path);
  // Progress is the share of the file's bytes read so far.
  const onBytes = (read: number): void => {
    if (file.size > 0) ctx.progress((read / file.size) * 100);
  };
  const chunks = readChunks(file, { signal: ctx.signal, onBytes });
  return {
    rows: readRows(chunks, format, { path, cast, maxItemBytes: ctx.limits.maxItemBytes, stats }),
    close: () => file.handle.close().catch(() => {}),
  };
}

export async function runDataProcessing(payload: DataProcessingPayload, ctx: RunContext): Promise<DataProcessingResult> {
  const pipeline = buildPipeline(payload.operations, ctx.limits);
  const format = outputFormat(payload);
  const read = { items: 0 };
  const source = await openSource(payload, ctx, read);
  try {
    const rows = pipeline(source.rows);
    if (payload.destination) {
      const path = payload.destination.file;
      const target = await ctx.jail.resolve(path, { followFinal: true });
      await onPath(path, () => mkdir(dirname(target), { recursive: true }));
      const written = { items: 0 };
      const bytes = await onPath(path, () => writeFileAtomic(target, render(rows, format, written), { signal: ctx.signal }));
      return { processed_items: read.items, output_format: format, destination: path, written_items: written.items, bytes_written: bytes };
    }
    const output = await inline(rows, format, ctx.limits.maxInlineOutputBytes);
    return { processed_items: read.items, output_format: format, ...output };
  } finally {
    await source.close();
  }
}

const outputTooLarge = (limit: number): TaskError =>
  new TaskError(
    'output_too_large',
    `the output is over ${limit} bytes (executors.data_processing.max_inline_output_bytes), too large to keep in the task; ` +
      'set destination: {file} to write it to a file, or reduce it (filter, select, limit)',
    { retryable: false },
  );

/**
 * Collects the rows for the task's result, stopping as soon as they pass the cap (the result is stored
 * in Redis). For csv and ndjson the rendered text comes as `output` too, and counts toward the cap.
 */
async function inline(rows: AsyncIterable<Row>, format: Format, limit: number): Promise<{ items: Row[]; output?: string }> {
  const items: Row[] = [];
  let size = 2;
  for await (const row of rows) {
    size += Buffer.byteLength(JSON.stringify(row)) + 1;
    if (size > limit) throw outputTooLarge(limit);
    items.push(row);
  }
  if (format === 'json') return { items };
  let output = '';
  for await (const text of render(items, format, { items: 0 })) {
    output += text;
    size += Buffer.byteLength(text);
    if (size > limit) throw outputTooLarge(limit);
  }
  return { items, output };
}
