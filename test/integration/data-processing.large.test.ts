// data_processing streams: a ~150 MB NDJSON file is filtered and counted, and filtered into a
// destination file, by the compiled pipeline in a child node process whose heap is capped well below
// the file's size (loading the file whole would crash it). Then, through the API, a long run over the
// same file is cancelled: the task ends cancelled, the source file is closed, nothing is left written.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { createTask, REPO_ROOT, startEngine, waitFor, waitForStatus, type Engine } from '../support/harness.js';
import { BLOCK_ROWS, makeSandbox, writeLargeNdjson, type Sandbox } from '../support/files.js';

const HEAP_MB = 64;
let box: Sandbox;
let big: { rows: number; blocks: number; bytes: number };
const bigPath = (): string => join(box.root, 'big.ndjson');

beforeAll(() => {
  box = makeSandbox('dataproc-large');
  big = writeLargeNdjson(bigPath(), 150);
});
afterAll(() => box.cleanup());

const dist = (path: string): string => pathToFileURL(join(REPO_ROOT, 'packages/executors/dist', path)).href;

describe('streaming', () => {
  it(`filters and counts a file much larger than a ${HEAP_MB} MB heap`, async () => {
    expect(big.bytes).toBeGreaterThan(2 * HEAP_MB * 1e6);
    const payloads = [
      {
        source: { file: 'big.ndjson' },
        operations: [
          { op: 'filter', where: { field: 'country', op: 'eq', value: 'FR' } },
          { op: 'group_by', aggregations: { n: { fn: 'count' }, oldest: { fn: 'max', field: 'user.age' } } },
        ],
      },
      {
        source: { file: 'big.ndjson' },
        operations: [{ op: 'filter', where: { field: 'score', op: 'gte', value: 99 } }, { op: 'select', fields: ['id', 'user.name'] }],
        destination: { file: 'out/top.ndjson' },
      },
    ];
    const script = `
      const { runDataProcessing } = await import(${JSON.stringify(dist('data-processing/run.js'))});
      const { DataProcessingPayload } = await import(${JSON.stringify(dist('data-processing/payload.js'))});
      const { PathJail } = await import(${JSON.stringify(dist('guards/path-jail.js'))});
      const ctx = {
        jail: new PathJail(${JSON.stringify(box.root)}),
        limits: { maxInlineOutputBytes: 1048576, maxBufferedItems: 100000, maxGroups: 100000, maxItemBytes: 1048576 },
        signal: new AbortController().signal,
        progress: () => {},
      };
      const results = [];
      for (const payload of ${JSON.stringify(payloads)}) results.push(await runDataProcessing(DataProcessingPayload.parse(payload), ctx));
      process.stdout.write(JSON.stringify(results));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--input-type=module', '-e', script], {
      timeout: 30_000,
    });
    const [counted, written] = JSON.parse(stdout);
    expect(counted).toEqual({ processed_items: big.rows, output_format: 'json', items: [{ n: big.rows / 5, oldest: 73 }] });
    expect(written).toMatchObject({ processed_items: big.rows, output_format: 'ndjson', destination: 'out/top.ndjson', written_items: big.blocks * (BLOCK_ROWS / 100) });
    expect(statSync(join(box.root, 'out/top.ndjson')).size).toBe(written.bytes_written);
  });
});

describe('cancel', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await startEngine({
      label: 'dataproc-cancel',
      overrides: { executors: { file_operation: { root: box.root } } },
      worker: { types: ['data_processing'], concurrency: 1 },
    });
  });
  afterAll(async () => engine.stop());

  /** Open descriptors of this process (the worker runs in it) on the big file. */
  const openOnBigFile = (): string[] =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === bigPath();
      } catch {
        return false;
      }
    });

  it('stops reading when a long run is cancelled: file closed, nothing written', async () => {
    const task = await createTask(engine, {
      type: 'data_processing',
      payload: { source: { file: 'big.ndjson' }, destination: { file: 'out/all.json' } },
      config: { max_retries: 2, retry_delay_seconds: 0 },
    });
    await waitFor(async () => {
      const now = (await engine.request('GET', `/tasks/${task.id}`)).body;
      if (now.status !== 'running') expect(now.status).toBe('queued');
      return now.status === 'running' && now.progress > 0;
    }, { what: 'the run to report progress' });
    expect(openOnBigFile().length).toBeGreaterThan(0);
    const res = await engine.request('POST', `/tasks/${task.id}/cancel`);
    expect(res.body).toMatchObject({ status: 'cancelled', previous_status: 'running' });
    const ended = await waitForStatus(engine, task.id, 'cancelled');
    expect(ended).toMatchObject({ error_code: 'cancelled', retry_count: 0 });
    expect(ended.progress).toBeLessThan(100);
    await waitFor(() => openOnBigFile().length === 0, { what: 'the source file to be closed' });
    await waitFor(() => !existsSync(join(box.root, 'out')) || readdirSync(join(box.root, 'out')).every((name) => name === 'top.ndjson'), {
      what: 'the temporary output to be removed',
    });
    expect(existsSync(join(box.root, 'out/all.json'))).toBe(false);
  });
});

describe('timeout', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await startEngine({
      label: 'files-timeout',
      overrides: { executors: { file_operation: { root: box.root, max_read_bytes: 1_000_000_000 } } },
      worker: { types: ['data_processing', 'file_operation'], concurrency: 1 },
    });
  });
  afterAll(async () => engine.stop());

  /** Names in the root other than the big file and the streaming test's output: temp files left behind. */
  const leftovers = (): string[] => readdirSync(box.root).filter((name) => name !== 'big.ndjson' && name !== 'out');

  it('ends a data_processing run at timeout_seconds with nothing written', async () => {
    const task = await createTask(engine, {
      type: 'data_processing',
      payload: { source: { file: 'big.ndjson' }, destination: { file: 'slow.json' } },
      config: { timeout_seconds: 1, max_retries: 0 },
    });
    expect(await waitForStatus(engine, task.id, 'timeout')).toMatchObject({ error_code: 'timeout' });
    await waitFor(() => leftovers().length === 0, { what: 'no destination or temp file' });
  });

  it('ends a file_operation copy at timeout_seconds: no destination, no temp file', async () => {
    const task = await createTask(engine, {
      type: 'file_operation',
      payload: { operation: 'copy', path: 'big.ndjson', destination: 'copy.ndjson' },
      config: { timeout_seconds: 0.05, max_retries: 0 },
    });
    expect(await waitForStatus(engine, task.id, 'timeout')).toMatchObject({ error_code: 'timeout' });
    await waitFor(() => leftovers().length === 0, { what: 'no destination or temp file' });
  });
});
