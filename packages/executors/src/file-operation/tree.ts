// delete, copy, move, mkdir: the operations that change the tree. The root folder can never be the
// target (refused at creation, checked again here); a folder in the way of a copy or move is refused
// even with overwrite (delete it first: overwrite never removes a whole folder by surprise).
import { createWriteStream, type Stats } from 'node:fs';
import { link, lstat, mkdir, readdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { TaskError } from '@taskengine/core';
import { tempPathBeside, writeFileAtomic } from '../guards/atomic-write.js';
import { isErrno, onPath } from '../guards/fs-errors.js';
import { outsideRoot, within } from '../guards/path-jail.js';
import { openRegularFile, readChunks } from '../guards/regular-file.js';
import { entryType, isAFolder, reportBytes, type FileOpContext, type FileOpResult } from './context.js';
import type { PayloadOf } from './payload.js';

/** Resolves a path that names the thing itself (a link, not what it points to), never the root. */
async function resolveNotRoot(ctx: FileOpContext, path: string): Promise<string> {
  const target = await ctx.jail.resolve(path, { followFinal: false });
  if (await ctx.jail.isRoot(target)) throw outsideRoot(path);
  return target;
}

async function lstatIfExists(target: string, path: string): Promise<Stats | undefined> {
  return onPath(path, () => lstat(target).catch((err) => (isErrno(err, 'ENOENT') ? undefined : Promise.reject(err))));
}

/** Refuses a destination that exists, unless overwrite allows replacing it (a file or a link, never a folder). */
async function checkDestination(target: string, path: string, overwrite: boolean): Promise<boolean> {
  const existing = await lstatIfExists(target, path);
  if (!existing) return false;
  if (existing.isDirectory()) throw isAFolder(path, ' already: a copy or move never replaces a folder');
  if (!overwrite) throw new TaskError('already_exists', `"${path}" already exists (set overwrite: true to replace it)`, { retryable: false });
  return true;
}

const intoItself = (path: string, destination: string): TaskError =>
  new TaskError('invalid_destination', `"${destination}" is inside "${path}": a folder cannot go into itself`, { retryable: false });

/** A link inside the root may be deleted (the link, not its target); a folder needs recursive unless empty. */
export async function deletePath(p: PayloadOf<'delete'>, ctx: FileOpContext): Promise<FileOpResult> {
  const target = await resolveNotRoot(ctx, p.path);
  return onPath(p.path, async () => {
    const info = await lstat(target);
    if (!info.isDirectory()) await unlink(target);
    else if (p.recursive) await rm(target, { recursive: true });
    else await rmdir(target);
    return { deleted: true, type: entryType(info) };
  });
}

export async function makeDirectory(p: PayloadOf<'mkdir'>, ctx: FileOpContext): Promise<FileOpResult> {
  const target = await ctx.jail.resolve(p.path, { followFinal: true });
  return onPath(p.path, async () => {
    if (p.recursive) {
      // mkdir -p answers undefined when the folder was already there.
      const first = await mkdir(target, { recursive: true });
      if (first === undefined && !(await lstat(target)).isDirectory()) throw new TaskError('already_exists', `"${p.path}" exists and is not a folder`, { retryable: false });
      return { created: first !== undefined };
    }
    await mkdir(target);
    return { created: true };
  });
}

/** Copies a file (atomically, like write) or, with recursive, a folder (built beside the destination, then renamed into place). */
export async function copyPath(p: PayloadOf<'copy'>, ctx: FileOpContext): Promise<FileOpResult> {
  const source = await ctx.jail.resolve(p.path, { followFinal: true });
  const destination = await resolveNotRoot(ctx, p.destination);
  const info = await onPath(p.path, () => lstat(source));
  if (info.isDirectory()) {
    if (!p.recursive) throw isAFolder(p.path, ': set recursive: true to copy a folder');
    if (within(source, destination)) throw intoItself(p.path, p.destination);
  }
  const overwritten = await checkDestination(destination, p.destination, p.overwrite);
  await onPath(p.destination, () => mkdir(dirname(destination), { recursive: true }));
  if (!info.isDirectory()) {
    const bytes = await copyFile(source, p.path, destination, p.destination, ctx, { noClobber: !p.overwrite });
    return { destination: p.destination, type: 'file', bytes_copied: bytes, overwritten };
  }
  const temp = tempPathBeside(destination, 'tmpdir');
  try {
    const totals = { files: 0, folders: 0, bytes: 0, skipped: 0 };
    await onPath(p.destination, () => mkdir(temp, { mode: info.mode & 0o7777 }));
    await copyTree(source, p.path, temp, ctx, totals);
    // rename onto an existing empty folder would succeed, so look again just before (a narrow race).
    await checkDestination(destination, p.destination, false);
    await onPath(p.destination, () => rename(temp, destination));
    return {
      destination: p.destination,
      type: 'directory',
      bytes_copied: totals.bytes,
      files_copied: totals.files,
      folders_copied: totals.folders,
      skipped_entries: totals.skipped,
      overwritten: false,
    };
  } finally {
    await rm(temp, { recursive: true, force: true }).catch(() => {});
  }
}

async function copyFile(
  source: string,
  sourcePath: string,
  destination: string,
  destinationPath: string,
  ctx: FileOpContext,
  options: { noClobber: boolean },
): Promise<number> {
  const file = await openRegularFile(source, sourcePath);
  try {
    const mode = (await file.handle.stat()).mode & 0o7777;
    const chunks = readChunks(file, { signal: ctx.signal, onBytes: (copied) => reportBytes(ctx, copied, file.size) });
    return await onPath(destinationPath, () => writeFileAtomic(destination, chunks, { signal: ctx.signal, noClobber: options.noClobber, mode }));
  } finally {
    await file.handle.close().catch(() => {});
  }
}

/**
 * Copies the folder's content into `into` (a fresh temporary folder). Links are not copied, neither as
 * links nor as what they point to: the engine never creates symlinks, which keeps the jail's race
 * window closed to tasks; they count as skipped, like sockets and other special files.
 */
async function copyTree(
  from: string,
  path: string,
  into: string,
  ctx: FileOpContext,
  totals: { files: number; folders: number; bytes: number; skipped: number },
): Promise<void> {
  for (const entry of await onPath(path, () => readdir(from, { withFileTypes: true }))) {
    ctx.signal.throwIfAborted();
    const src = join(from, entry.name);
    const dst = join(into, entry.name);
    const entryPath = `${path}/${entry.name}`;
    if (entry.isDirectory()) {
      const mode = (await onPath(entryPath, () => lstat(src))).mode & 0o7777;
      await onPath(entryPath, () => mkdir(dst, { mode }));
      totals.folders += 1;
      await copyTree(src, entryPath, dst, ctx, totals);
    } else if (entry.isFile()) {
      const file = await openRegularFile(src, entryPath);
      try {
        const mode = (await file.handle.stat()).mode & 0o7777;
        const output = createWriteStream(dst, { flags: 'wx', mode });
        await onPath(entryPath, () => pipeline(readChunks(file, { signal: ctx.signal }), output, { signal: ctx.signal }));
        totals.bytes += output.bytesWritten;
        totals.files += 1;
      } finally {
        await file.handle.close().catch(() => {});
      }
    } else {
      totals.skipped += 1;
    }
  }
}

/**
 * Moves the thing itself (a link moves as a link). Without overwrite a file or link is moved by
 * link + unlink, which fails rather than replace a destination created meanwhile; with overwrite,
 * and for folders, by rename.
 */
export async function movePath(p: PayloadOf<'move'>, ctx: FileOpContext): Promise<FileOpResult> {
  const source = await resolveNotRoot(ctx, p.path);
  const destination = await resolveNotRoot(ctx, p.destination);
  const info = await onPath(p.path, () => lstat(source));
  if (info.isDirectory() && within(source, destination)) throw intoItself(p.path, p.destination);
  const overwritten = await checkDestination(destination, p.destination, p.overwrite);
  await onPath(p.destination, () => mkdir(dirname(destination), { recursive: true }));
  ctx.signal.throwIfAborted();
  await onPath(p.destination, async () => {
    if (overwritten || info.isDirectory()) return rename(source, destination);
    try {
      await link(source, destination);
    } catch (err) {
      // File systems without hard links: fall back to a plain rename after the check above.
      if (!isErrno(err, 'EPERM', 'ENOTSUP', 'EOPNOTSUPP')) throw err;
      return rename(source, destination);
    }
    await unlink(source);
  });
  return { destination: p.destination, type: entryType(info), overwritten };
}
