// list, stat, exists: the operations that only look. They follow a symlink inside the root to what it
// points to and refuse one that leads out (path_outside_root), like read does; `stat` also says
// whether the path itself is a link.
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TaskError } from '@taskengine/core';
import { isErrno, onPath } from '../guards/fs-errors.js';
import { entryType, type EntryType, type FileOpContext, type FileOpResult } from './context.js';
import type { PayloadOf } from './payload.js';

interface Entry {
  name: string;
  type: EntryType;
  size?: number;
}

/**
 * Lists a folder, names sorted; recursive walks breadth-first without entering linked folders (they
 * are listed as `symlink`), names relative to the listed folder. Stops at max_list_entries with
 * `truncated: true`, so a huge tree cannot flood the result stored in Redis.
 */
export async function listFolder(p: PayloadOf<'list'>, ctx: FileOpContext): Promise<FileOpResult> {
  const folder = await ctx.jail.resolve(p.path, { followFinal: true });
  return onPath(p.path, async () => {
    if (!(await stat(folder)).isDirectory()) {
      throw new TaskError('not_a_directory', `"${p.path}" is not a folder`, { retryable: false });
    }
    const entries: Entry[] = [];
    const pending = [''];
    let truncated = false;
    walk: for (let relative = pending.shift(); relative !== undefined; relative = pending.shift()) {
      ctx.signal.throwIfAborted();
      const dirents = await readdir(join(folder, relative), { withFileTypes: true });
      dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const dirent of dirents) {
        if (entries.length >= ctx.maxListEntries) {
          truncated = true;
          break walk;
        }
        const name = relative ? `${relative}/${dirent.name}` : dirent.name;
        const entry: Entry = { name, type: entryType(dirent) };
        if (entry.type === 'file') {
          // A file removed meanwhile just has no size.
          const size = await lstat(join(folder, name)).then((s) => s.size, () => undefined);
          if (size !== undefined) entry.size = size;
        }
        entries.push(entry);
        if (p.recursive && entry.type === 'directory') pending.push(name);
      }
    }
    return { entries, count: entries.length, truncated, recursive: p.recursive };
  });
}

export async function statPath(p: PayloadOf<'stat'>, ctx: FileOpContext): Promise<FileOpResult> {
  const itself = await ctx.jail.resolve(p.path, { followFinal: false });
  return onPath(p.path, async () => {
    const isSymlink = (await lstat(itself)).isSymbolicLink();
    const info = isSymlink ? await stat(await ctx.jail.resolve(p.path, { followFinal: true })) : await lstat(itself);
    return {
      type: entryType(info),
      size: info.size,
      mode: (info.mode & 0o7777).toString(8).padStart(4, '0'),
      mtime: info.mtime.toISOString(),
      atime: info.atime.toISOString(),
      ctime: info.ctime.toISOString(),
      birthtime: info.birthtime.toISOString(),
      is_symlink: isSymlink,
    };
  });
}

/** A dangling link inside the root does not exist; a link leading out is refused, not answered. */
export async function pathExists(p: PayloadOf<'exists'>, ctx: FileOpContext): Promise<FileOpResult> {
  const target = await ctx.jail.resolve(p.path, { followFinal: true });
  return onPath(p.path, async () => {
    const info = await lstat(target).catch((err) => (isErrno(err, 'ENOENT', 'ENOTDIR') ? undefined : Promise.reject(err)));
    return info ? { exists: true, type: entryType(info) } : { exists: false };
  });
}
