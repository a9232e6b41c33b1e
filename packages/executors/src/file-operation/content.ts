// read, write, append: the operations on a file's content. Reads are capped at max_read_bytes twice
// over (the size before reading, and the bytes actually read, in case the file grows meanwhile);
// writes go through writeFileAtomic; append adds in place (see appendFile).
import { constants } from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TaskError } from '@taskengine/core';
import { writeFileAtomic } from '../guards/atomic-write.js';
import { isErrno, onPath } from '../guards/fs-errors.js';
import { openRegularFile, readChunks } from '../guards/regular-file.js';
import { isAFolder, reportBytes, type FileOpContext, type FileOpResult } from './context.js';
import type { PayloadOf } from './payload.js';

const tooLarge = (path: string, limit: number): TaskError =>
  new TaskError('file_too_large', `"${path}" is larger than max_read_bytes (${limit} bytes)`, { retryable: false });

export async function readFile(p: PayloadOf<'read'>, ctx: FileOpContext): Promise<FileOpResult> {
  const target = await ctx.jail.resolve(p.path, { followFinal: true });
  const file = await openRegularFile(target, p.path);
  try {
    const limit = ctx.maxReadBytes;
    if (file.size > limit) throw tooLarge(p.path, limit);
    const chunks: Buffer[] = [];
    let total = 0;
    // `end` is inclusive: asking for one byte past the cap is how a file that grew after fstat shows.
    const onBytes = (read: number): void => {
      if (read > limit) throw tooLarge(p.path, limit);
      reportBytes(ctx, read, file.size);
    };
    await onPath(p.path, async () => {
      for await (const chunk of readChunks(file, { end: limit, signal: ctx.signal, onBytes })) {
        chunks.push(chunk);
        total += chunk.length;
      }
    });
    return { content: Buffer.concat(chunks, total).toString(p.encoding), encoding: p.encoding, size: total };
  } finally {
    await file.handle.close().catch(() => {});
  }
}

/** Whether `target` exists; a folder there is refused, since content cannot replace it. */
async function existingFile(target: string, path: string): Promise<boolean> {
  try {
    if ((await lstat(target)).isDirectory()) throw isAFolder(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

/** Replaces (or creates) the file atomically; missing parent folders are created, like `mkdir -p`. */
export async function writeFile(p: PayloadOf<'write'>, ctx: FileOpContext): Promise<FileOpResult> {
  const target = await ctx.jail.resolve(p.path, { followFinal: true });
  return onPath(p.path, async () => {
    const existed = await existingFile(target, p.path);
    await mkdir(dirname(target), { recursive: true });
    const written = await writeFileAtomic(target, Buffer.from(p.content, p.encoding), { signal: ctx.signal });
    return { bytes_written: written, size: written, created: !existed };
  });
}

/**
 * Appends in place with O_APPEND rather than rewriting the file through a temporary copy: appending is
 * meant to be cheap on a growing file (a log), and readers of such a file expect it to grow. One
 * payload is at most the API's body limit, written by one write call.
 */
export async function appendFile(p: PayloadOf<'append'>, ctx: FileOpContext): Promise<FileOpResult> {
  const target = await ctx.jail.resolve(p.path, { followFinal: true });
  return onPath(p.path, async () => {
    const existed = await existingFile(target, p.path);
    await mkdir(dirname(target), { recursive: true });
    ctx.signal.throwIfAborted();
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
    const handle = await open(target, flags, 0o666);
    try {
      const data = Buffer.from(p.content, p.encoding);
      await handle.writeFile(data);
      const { size } = await handle.stat();
      return { bytes_written: data.length, size, created: !existed };
    } finally {
      await handle.close();
    }
  });
}
