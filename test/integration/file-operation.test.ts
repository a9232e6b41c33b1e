// file_operation through the real API and an in-process worker on real Redis, on a real folder: every
// operation, encodings, overwrite rules, the read cap, atomic writes under a concurrent reader, and
// the path matrix (lexical refusals are 400s at creation; symlinks leading out fail at run time with
// path_outside_root, no retry, and the file outside is never read or changed).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, waitFor, type Engine } from '../support/harness.js';
import { expectCompleted, expectFailure, expectRejected, makeSandbox, SECRET, type Sandbox } from '../support/files.js';

const TYPE = 'file_operation';
const MAX_READ = 100_000;
let engine: Engine;
let box: Sandbox;

beforeAll(async () => {
  box = makeSandbox('fileop');
  engine = await startEngine({
    label: 'fileop',
    overrides: { executors: { file_operation: { root: box.root, max_read_bytes: MAX_READ, max_list_entries: 25 } } },
    worker: { types: ['file_operation'], concurrency: 4 },
  });
  // Links inside the root: to the secret file, to the sibling folder, to the sibling's file, and one inside.
  symlinkSync(box.secret, join(box.root, 'out-link'));
  symlinkSync(box.sibling, join(box.root, 'out-dir'));
  symlinkSync(join(box.sibling, 'x'), join(box.root, 'evil-link'));
  writeFileSync(join(box.root, 'inside.txt'), 'inside\n');
  symlinkSync('inside.txt', join(box.root, 'in-link'));
  symlinkSync('missing.txt', join(box.root, 'dangling-in'));
});
afterAll(async () => {
  await engine.stop();
  box.cleanup();
});

const ok = (payload: Record<string, unknown>) => expectCompleted(engine, TYPE, payload);
const fails = (payload: Record<string, unknown>, code: string) => expectFailure(engine, TYPE, payload, code);
const rejected = (payload: Record<string, unknown>, path = 'payload.path') => expectRejected(engine, TYPE, payload, path);
const inRoot = (path: string): string => join(box.root, path);

describe('read, write, append', () => {
  it('writes then reads utf8 text; a second write replaces the file', async () => {
    expect(await ok({ operation: 'write', path: 'notes/hello.txt', content: 'héllo\n' })).toEqual({
      operation: 'write', path: 'notes/hello.txt', success: true, bytes_written: 7, size: 7, created: true,
    });
    expect(await ok({ operation: 'read', path: 'notes/hello.txt' })).toEqual({
      operation: 'read', path: 'notes/hello.txt', success: true, content: 'héllo\n', encoding: 'utf8', size: 7,
    });
    expect(await ok({ operation: 'write', path: 'notes/hello.txt', content: 'bye' })).toMatchObject({ created: false, size: 3 });
    expect(readFileSync(inRoot('notes/hello.txt'), 'utf8')).toBe('bye');
  });

  it('writes and reads binary content as base64', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await ok({ operation: 'write', path: 'bin/all.bytes', content: bytes.toString('base64'), encoding: 'base64' });
    expect(readFileSync(inRoot('bin/all.bytes'))).toEqual(bytes);
    const read = await ok({ operation: 'read', path: 'bin/all.bytes', encoding: 'base64' });
    expect(read).toMatchObject({ content: bytes.toString('base64'), encoding: 'base64', size: 256 });
  });

  it('appends, creating the file first', async () => {
    expect(await ok({ operation: 'append', path: 'log/app.log', content: 'one\n' })).toMatchObject({ bytes_written: 4, size: 4, created: true });
    expect(await ok({ operation: 'append', path: 'log/app.log', content: 'dHdvCg==', encoding: 'base64' })).toMatchObject({ bytes_written: 4, size: 8, created: false });
    expect(readFileSync(inRoot('log/app.log'), 'utf8')).toBe('one\ntwo\n');
  });

  it('reads and writes through a link that stays inside the root', async () => {
    expect(await ok({ operation: 'read', path: 'in-link' })).toMatchObject({ content: 'inside\n' });
    await ok({ operation: 'write', path: 'in-link', content: 'inside\n' });
    expect(lstatSync(inRoot('in-link')).isSymbolicLink()).toBe(true);
  });

  it('fails a missing file with not_found, without retry', async () => {
    const task = await fails({ operation: 'read', path: 'nope.txt' }, 'not_found');
    expect(task.error).toContain('nope.txt');
  });

  it('refuses a file over max_read_bytes with file_too_large', async () => {
    writeFileSync(inRoot('big.bin'), Buffer.alloc(MAX_READ + 1));
    await fails({ operation: 'read', path: 'big.bin' }, 'file_too_large');
    writeFileSync(inRoot('just-fits.bin'), Buffer.alloc(MAX_READ));
    expect(await ok({ operation: 'read', path: 'just-fits.bin', encoding: 'base64' })).toMatchObject({ size: MAX_READ });
  });

  it('refuses to read or write a folder', async () => {
    mkdirSync(inRoot('a-folder'), { recursive: true });
    await fails({ operation: 'read', path: 'a-folder' }, 'is_a_directory');
    await fails({ operation: 'write', path: 'a-folder', content: 'x' }, 'is_a_directory');
  });
});

describe('atomic write', () => {
  it('a reader polling while a big file is rewritten only ever sees a whole old or new file', async () => {
    const size = 400_000;
    const contents = ['a', 'b'].map((c) => c.repeat(size));
    await ok({ operation: 'write', path: 'atomic/big.txt', content: contents[0] });
    // The reader runs in its own process so that it reads while the worker's writes are under way.
    const reader = spawn(process.execPath, ['--input-type=module', '-e', `
      import { readFileSync } from 'node:fs';
      const seen = { a: 0, b: 0, partial: 0 };
      let stop = false;
      process.stdin.on('data', () => (stop = true));
      const poll = () => {
        const text = readFileSync(${JSON.stringify(inRoot('atomic/big.txt'))}, 'utf8');
        if (text.length === ${size} && (text === 'a'.repeat(${size}) || text === 'b'.repeat(${size}))) seen[text[0]]++;
        else seen.partial++;
        if (stop) process.stdout.write(JSON.stringify(seen)); else setImmediate(poll);
      };
      process.stdout.write('ready\\n');
      poll();
    `], { stdio: ['pipe', 'pipe', 'inherit'] });
    let output = '';
    reader.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(() => output.startsWith('ready'), { what: 'reader ready' });
    for (let i = 1; i <= 6; i++) await ok({ operation: 'write', path: 'atomic/big.txt', content: contents[i % 2] });
    reader.stdin.end('stop');
    await new Promise((resolve) => reader.on('close', resolve));
    const seen = JSON.parse(output.slice('ready\n'.length));
    expect(seen.partial).toBe(0);
    expect(seen.a).toBeGreaterThan(0);
    expect(seen.b).toBeGreaterThan(0);
    // No temporary file is left beside it.
    expect(readdirSync(inRoot('atomic'))).toEqual(['big.txt']);
  });
});

describe('copy, move, delete, mkdir', () => {
  it('copies a file and refuses an existing destination unless overwrite', async () => {
    writeFileSync(inRoot('c-src.txt'), 'source');
    writeFileSync(inRoot('c-dst.txt'), 'old');
    expect(await ok({ operation: 'copy', path: 'c-src.txt', destination: 'copies/c-new.txt' })).toMatchObject({
      destination: 'copies/c-new.txt', type: 'file', bytes_copied: 6, overwritten: false,
    });
    expect(readFileSync(inRoot('copies/c-new.txt'), 'utf8')).toBe('source');
    await fails({ operation: 'copy', path: 'c-src.txt', destination: 'c-dst.txt' }, 'already_exists');
    expect(readFileSync(inRoot('c-dst.txt'), 'utf8')).toBe('old');
    expect(await ok({ operation: 'copy', path: 'c-src.txt', destination: 'c-dst.txt', overwrite: true })).toMatchObject({ overwritten: true });
    expect(readFileSync(inRoot('c-dst.txt'), 'utf8')).toBe('source');
  });

  it('copies a folder only with recursive, and never into itself', async () => {
    mkdirSync(inRoot('tree/sub'), { recursive: true });
    writeFileSync(inRoot('tree/one.txt'), '1');
    writeFileSync(inRoot('tree/sub/two.txt'), '22');
    symlinkSync(box.secret, inRoot('tree/sub/link'));
    await fails({ operation: 'copy', path: 'tree', destination: 'tree-copy' }, 'is_a_directory');
    expect(await ok({ operation: 'copy', path: 'tree', destination: 'tree-copy', recursive: true })).toMatchObject({
      type: 'directory', files_copied: 2, folders_copied: 1, bytes_copied: 3, skipped_entries: 1,
    });
    expect(readFileSync(inRoot('tree-copy/sub/two.txt'), 'utf8')).toBe('22');
    expect(existsSync(inRoot('tree-copy/sub/link'))).toBe(false);
    await fails({ operation: 'copy', path: 'tree', destination: 'tree/sub/again', recursive: true }, 'invalid_destination');
    await fails({ operation: 'copy', path: 'tree', destination: 'tree-copy', recursive: true }, 'is_a_directory');
  });

  it('moves a file and refuses an existing destination unless overwrite', async () => {
    writeFileSync(inRoot('m-src.txt'), 'moving');
    writeFileSync(inRoot('m-dst.txt'), 'old');
    await fails({ operation: 'move', path: 'm-src.txt', destination: 'm-dst.txt' }, 'already_exists');
    expect(readFileSync(inRoot('m-src.txt'), 'utf8')).toBe('moving');
    expect(await ok({ operation: 'move', path: 'm-src.txt', destination: 'm-dst.txt', overwrite: true })).toMatchObject({ overwritten: true, type: 'file' });
    expect(readFileSync(inRoot('m-dst.txt'), 'utf8')).toBe('moving');
    expect(existsSync(inRoot('m-src.txt'))).toBe(false);
    expect(await ok({ operation: 'move', path: 'm-dst.txt', destination: 'moved/deeper/m.txt' })).toMatchObject({ overwritten: false });
    expect(readFileSync(inRoot('moved/deeper/m.txt'), 'utf8')).toBe('moving');
  });

  it('moves a folder, not into itself', async () => {
    mkdirSync(inRoot('mv-tree/a'), { recursive: true });
    await fails({ operation: 'move', path: 'mv-tree', destination: 'mv-tree/a/b' }, 'invalid_destination');
    await ok({ operation: 'move', path: 'mv-tree', destination: 'mv-tree-2' });
    expect(lstatSync(inRoot('mv-tree-2/a')).isDirectory()).toBe(true);
  });

  it('deletes files; a folder that is not empty needs recursive', async () => {
    mkdirSync(inRoot('del/sub'), { recursive: true });
    writeFileSync(inRoot('del/sub/f.txt'), 'f');
    writeFileSync(inRoot('del/file.txt'), 'f');
    expect(await ok({ operation: 'delete', path: 'del/file.txt' })).toMatchObject({ deleted: true, type: 'file' });
    await fails({ operation: 'delete', path: 'del' }, 'directory_not_empty');
    expect(await ok({ operation: 'delete', path: 'del', recursive: true })).toMatchObject({ deleted: true, type: 'directory' });
    expect(existsSync(inRoot('del'))).toBe(false);
    await fails({ operation: 'delete', path: 'del' }, 'not_found');
  });

  it('makes folders; recursive makes parents and accepts an existing folder', async () => {
    expect(await ok({ operation: 'mkdir', path: 'made' })).toMatchObject({ created: true });
    await fails({ operation: 'mkdir', path: 'made' }, 'already_exists');
    await fails({ operation: 'mkdir', path: 'no/parent' }, 'not_found');
    expect(await ok({ operation: 'mkdir', path: 'made/a/b', recursive: true })).toMatchObject({ created: true });
    expect(await ok({ operation: 'mkdir', path: 'made/a/b', recursive: true })).toMatchObject({ created: false });
    expect(lstatSync(inRoot('made/a/b')).isDirectory()).toBe(true);
  });
});

describe('list, stat, exists', () => {
  it('lists a folder, then its whole tree with recursive', async () => {
    mkdirSync(inRoot('ls/sub'), { recursive: true });
    writeFileSync(inRoot('ls/b.txt'), 'bb');
    writeFileSync(inRoot('ls/sub/c.txt'), 'c');
    symlinkSync('b.txt', inRoot('ls/a-link'));
    expect(await ok({ operation: 'list', path: 'ls' })).toMatchObject({
      entries: [{ name: 'a-link', type: 'symlink' }, { name: 'b.txt', type: 'file', size: 2 }, { name: 'sub', type: 'directory' }],
      count: 3, truncated: false,
    });
    const deep = await ok({ operation: 'list', path: 'ls', recursive: true });
    expect(deep.entries.map((e: { name: string }) => e.name)).toEqual(['a-link', 'b.txt', 'sub', 'sub/c.txt']);
  });

  it('stops a listing at max_list_entries', async () => {
    mkdirSync(inRoot('many'));
    for (let i = 0; i < 30; i++) writeFileSync(inRoot(`many/f${String(i).padStart(2, '0')}`), '');
    expect(await ok({ operation: 'list', path: 'many' })).toMatchObject({ count: 25, truncated: true });
  });

  it('stats files, folders and links inside the root', async () => {
    writeFileSync(inRoot('st.txt'), 'four');
    const file = await ok({ operation: 'stat', path: 'st.txt' });
    expect(file).toMatchObject({ type: 'file', size: 4, is_symlink: false });
    expect(file.mode).toMatch(/^0[0-7]{3}$/);
    expect(Date.parse(file.mtime)).not.toBeNaN();
    expect(await ok({ operation: 'stat', path: '.' })).toMatchObject({ type: 'directory' });
    expect(await ok({ operation: 'stat', path: 'in-link' })).toMatchObject({ type: 'file', is_symlink: true });
    await fails({ operation: 'stat', path: 'missing.txt' }, 'not_found');
  });

  it('says whether a path exists', async () => {
    expect(await ok({ operation: 'exists', path: 'inside.txt' })).toMatchObject({ exists: true, type: 'file' });
    expect(await ok({ operation: 'exists', path: 'nothing/here' })).toEqual({ operation: 'exists', path: 'nothing/here', success: true, exists: false });
    expect(await ok({ operation: 'exists', path: 'dangling-in' })).toMatchObject({ exists: false });
  });
});

describe('payload schema (400 at creation)', () => {
  it('refuses an unknown operation', async () => {
    await rejected({ operation: 'chmod', path: 'a' }, 'payload.operation');
  });
  it('refuses content on a read', async () => {
    await rejected({ operation: 'read', path: 'a', content: 'x' }, 'payload.content');
  });
  it('refuses a copy without destination', async () => {
    await rejected({ operation: 'copy', path: 'a' }, 'payload.destination');
  });
  it('refuses content that is not base64 when encoding is base64', async () => {
    await rejected({ operation: 'write', path: 'a', content: 'not base64!', encoding: 'base64' }, 'payload.content');
  });
  it('refuses overwrite on a write and recursive on a read', async () => {
    await rejected({ operation: 'write', path: 'a', content: 'x', overwrite: true }, 'payload.overwrite');
    await rejected({ operation: 'read', path: 'a', recursive: true }, 'payload.recursive');
  });
});

describe('path matrix', () => {
  /** The files outside the root are exactly as the sandbox made them. */
  const expectOutsideUntouched = (): void => {
    expect(readFileSync(box.secret, 'utf8')).toBe(SECRET);
    expect(readdirSync(box.sibling)).toEqual(['x']);
    expect(readFileSync(join(box.sibling, 'x'), 'utf8')).toBe(SECRET);
    expect(readdirSync(box.base).sort()).toEqual(['root', 'root-evil', 'secret.txt']);
  };

  describe('lexical: 400 at creation', () => {
    it.each([
      ['../../etc/passwd'],
      ['/etc/passwd'],
      ['a/../../x'],
      ['a\0b'],
      ['../root-evil/x'],
      [''],
    ])('refuses a read of %j', async (path) => {
      const error = await rejected({ operation: 'read', path });
      expect(error.message).toMatch(/path/);
    });

    it('refuses a write to ../root-evil/x', async () => {
      await rejected({ operation: 'write', path: '../root-evil/x', content: 'pwned' });
      expectOutsideUntouched();
    });

    it('refuses a copy to a destination outside', async () => {
      await rejected({ operation: 'copy', path: 'inside.txt', destination: '../secret.txt', overwrite: true }, 'payload.destination');
    });

    it.each([['.'], ['./'], ['']])('refuses delete of the root as %j', async (path) => {
      await rejected({ operation: 'delete', path, recursive: true });
      expect(existsSync(inRoot('inside.txt'))).toBe(true);
    });

    it('refuses move of the root', async () => {
      await rejected({ operation: 'move', path: '.', destination: 'elsewhere' });
    });
  });

  describe('symlinks leading out: path_outside_root at run time, no retry', () => {
    const outside = (payload: Record<string, unknown>) => fails(payload, 'path_outside_root');

    it('read through a link to a file outside', async () => {
      const task = await outside({ operation: 'read', path: 'out-link' });
      expect(JSON.stringify(task.result ?? '')).not.toContain('top secret');
      expectOutsideUntouched();
    });

    it('write through a link to a file outside', async () => {
      await outside({ operation: 'write', path: 'out-link', content: 'pwned' });
      expectOutsideUntouched();
    });

    it('append through a link to a file outside', async () => {
      await outside({ operation: 'append', path: 'out-link', content: 'pwned' });
      expectOutsideUntouched();
    });

    it('list through a link to the sibling root-evil folder', async () => {
      await outside({ operation: 'list', path: 'out-dir' });
    });

    it('read root-evil/x through a linked folder', async () => {
      await outside({ operation: 'read', path: 'out-dir/x' });
      await outside({ operation: 'read', path: 'evil-link' });
    });

    it('write into root-evil through a linked folder', async () => {
      await outside({ operation: 'write', path: 'out-dir/new.txt', content: 'pwned' });
      await outside({ operation: 'mkdir', path: 'out-dir/sub' });
      expectOutsideUntouched();
    });

    it('copy from or to outside through links', async () => {
      await outside({ operation: 'copy', path: 'out-link', destination: 'stolen.txt' });
      expect(existsSync(inRoot('stolen.txt'))).toBe(false);
      await outside({ operation: 'copy', path: 'inside.txt', destination: 'out-dir/x', overwrite: true });
      expectOutsideUntouched();
    });

    it('stat and exists through a link to outside', async () => {
      await outside({ operation: 'stat', path: 'out-link' });
      await outside({ operation: 'exists', path: 'out-dir/x' });
    });

    it('delete of a link leading out removes the link, never its target', async () => {
      symlinkSync(box.secret, inRoot('doomed-link'));
      expect(await ok({ operation: 'delete', path: 'doomed-link' })).toMatchObject({ deleted: true, type: 'symlink' });
      expect(existsSync(inRoot('doomed-link'))).toBe(false);
      expectOutsideUntouched();
    });
  });
});
