// What every file operation receives: the jail for its paths, the limits from config, and the
// attempt's AbortSignal and progress reporter.
import type { Dirent, Stats } from 'node:fs';
import { TaskError } from '@taskengine/core';
import type { PathJail } from '../guards/path-jail.js';

export interface FileOpContext {
  jail: PathJail;
  maxReadBytes: number;
  maxListEntries: number;
  signal: AbortSignal;
  progress(percent: number): void;
}

/** What an operation adds to `{operation, path, success: true}`. */
export type FileOpResult = Record<string, unknown>;

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export function entryType(entry: Stats | Dirent): EntryType {
  if (entry.isFile()) return 'file';
  if (entry.isDirectory()) return 'directory';
  if (entry.isSymbolicLink()) return 'symlink';
  return 'other';
}

export const isAFolder = (path: string, hint = ''): TaskError =>
  new TaskError('is_a_directory', `"${path}" is a folder${hint}`, { retryable: false });

/** Progress of `done` out of `total` bytes; nothing for empty totals. */
export function reportBytes(ctx: FileOpContext, done: number, total: number): void {
  if (total > 0) ctx.progress((done / total) * 100);
}
