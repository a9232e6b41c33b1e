// The path jail shared by file_operation, data_processing and system_command's cwd: every path a task
// names is relative to one root folder and must stay inside it, lexically (checked at creation: `..`,
// absolute paths, NUL bytes) and physically (checked at run time: symlinks are resolved and the real
// location must still be inside the real root).
//
// Limit, by design: the check runs just before the file is used. A process outside the engine that can
// write into the root could swap a folder for a symlink in between; the engine itself offers no way to
// create symlinks, so tasks cannot stage that race on their own.
import { lstat, mkdir, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { TaskError } from '@taskengine/core';
import { z } from 'zod';

/** Why a task-supplied relative path is refused before anything touches the disk; null when it is acceptable. */
export function relativePathProblem(path: string): string | null {
  if (path.includes('\0')) return 'must not contain a NUL byte';
  if (isAbsolute(path) || path.startsWith('\\')) return 'must be relative to the root, not absolute';
  if (path.split(/[\\/]/).includes('..')) return "must not contain '..' segments";
  return null;
}

export const outsideRoot = (path: string): TaskError =>
  new TaskError('path_outside_root', `path "${path}" leads outside the root folder`, { retryable: false });

/** Symlink hops followed before giving up, as the kernel does (ELOOP at 40). */
const MAX_LINK_HOPS = 40;

export interface ResolveOptions {
  /**
   * Follow a symlink in the last segment (read, write, list: act on what it points to). Without it the
   * link itself is the target (delete, move, lstat), which is safe wherever it points.
   */
  followFinal: boolean;
}

export class PathJail {
  private realRoot?: Promise<string>;

  constructor(readonly root: string) {}

  /** The root's real path, creating the folder the first time it is needed. */
  realRootPath(): Promise<string> {
    this.realRoot ??= mkdir(this.root, { recursive: true }).then(() => realpath(this.root));
    // A failed first attempt (e.g. permissions) must not poison every later task.
    this.realRoot.catch(() => (this.realRoot = undefined));
    return this.realRoot;
  }

  /** True when `absolute` (a path from resolve()) is the root itself. */
  async isRoot(absolute: string): Promise<boolean> {
    return absolute === (await this.realRootPath());
  }

  /**
   * The absolute real path for `path` (relative to the root), every existing symlink on the way resolved
   * and checked; segments that do not exist yet are appended as given. Throws `path_outside_root`.
   */
  async resolve(path: string, options: ResolveOptions): Promise<string> {
    if (relativePathProblem(path) !== null) throw outsideRoot(path);
    const root = await this.realRootPath();
    let target = resolve(root, path);
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop += 1) {
      if (!within(root, target)) throw outsideRoot(path);
      const parent = target === root ? root : await this.realExistingAncestor(root, dirname(target), path);
      const located = target === root ? root : join(parent, basename(target));
      if (!options.followFinal) return located;
      const link = await lstat(located).catch(() => undefined);
      if (!link?.isSymbolicLink()) return located;
      // Follow one hop by hand so that a dangling link (the file to be created) is checked too.
      target = resolve(parent, await readlink(located));
    }
    throw new TaskError('too_many_links', `path "${path}" has too many levels of symbolic links`, { retryable: false });
  }

  /** realpath() of the deepest existing folder of `folder`, plus the missing rest, checked inside `root`. */
  private async realExistingAncestor(root: string, folder: string, original: string): Promise<string> {
    const missing: string[] = [];
    let current = folder;
    for (;;) {
      const real = await realpath(current).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (real !== undefined) {
        if (!within(root, real)) throw outsideRoot(original);
        return join(real, ...missing.reverse());
      }
      missing.push(basename(current));
      const up = dirname(current);
      if (up === current) throw outsideRoot(original);
      current = up;
    }
  }
}

/** Inside `root` or the root itself; `root-evil` next to `root` is outside. */
export function within(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  const rel = relative(root, candidate);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/**
 * A task-supplied path in a payload schema: refused at creation (400) when it is empty or lexically
 * escapes the root (`..`, absolute, NUL byte). `.` names the root itself.
 */
export const JailedPath = z
  .string()
  .min(1, 'must not be empty (use "." for the root folder)')
  .max(4096)
  .superRefine((path, ctx) => {
    const problem = relativePathProblem(path);
    if (problem) ctx.addIssue({ code: 'custom', message: `path_outside_root: ${problem}` });
  });

/** True when a relative path names the root folder itself (`.`, `./`, `./.`); `..` forms are refused before. */
export function namesRoot(path: string): boolean {
  return normalize(path).replace(/[\\/]+$/, '') === '.';
}
