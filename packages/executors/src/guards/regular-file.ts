// Opening a file a task reads (file_operation read and copy, data_processing sources). The path comes
// from PathJail.resolve, so its last segment was not a symlink when checked; O_NOFOLLOW makes open fail
// if one was swapped in since. Only regular files are read: a FIFO or a device would block a thread of
// libuv's small pool (or never end), and fstat on the open handle gives the size of what is really read.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { TaskError } from '@taskengine/core';
import { onPath } from './fs-errors.js';

export interface OpenedFile {
  handle: FileHandle;
  size: number;
}

export async function openRegularFile(target: string, path: string): Promise<OpenedFile> {
  return onPath(path, async () => {
    const handle = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw new TaskError('is_a_directory', `"${path}" is a folder, not a file`, { retryable: false });
      if (!info.isFile()) throw new TaskError('not_a_file', `"${path}" is not a regular file`, { retryable: false });
      return { handle, size: info.size };
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  });
}

export interface ReadChunksOptions {
  signal: AbortSignal;
  /** Last byte to read, inclusive (as in fs streams). */
  end?: number;
  /** Called with the running total after each chunk (progress, caps). */
  onBytes?(total: number): void;
}

/**
 * The file's bytes as chunks. The stream honours the signal and is destroyed when the consumer stops
 * early; the handle stays open for the caller to close.
 */
export async function* readChunks(file: OpenedFile, options: ReadChunksOptions): AsyncGenerator<Buffer> {
  const stream = file.handle.createReadStream({ start: 0, end: options.end, autoClose: false, signal: options.signal });
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    options.onBytes?.(total);
    yield chunk;
  }
}
