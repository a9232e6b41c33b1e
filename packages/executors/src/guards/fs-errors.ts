// File-system failures as task errors with stable codes, shared by file_operation and data_processing.
// Errors that retrying cannot fix (a missing file, a folder in the way, permissions) are not retryable;
// unexpected I/O errors are, since a full disk or a busy device may clear up.
import { TaskError } from '@taskengine/core';

const CODES: Record<string, { code: string; what: string; retryable?: boolean }> = {
  ENOENT: { code: 'not_found', what: 'does not exist' },
  EEXIST: { code: 'already_exists', what: 'already exists' },
  EISDIR: { code: 'is_a_directory', what: 'is a folder' },
  ENOTDIR: { code: 'not_a_directory', what: 'is not a folder (or a parent of it is a file)' },
  ENOTEMPTY: { code: 'directory_not_empty', what: 'is a folder that is not empty (use recursive: true)' },
  EACCES: { code: 'permission_denied', what: 'cannot be accessed: permission denied' },
  EPERM: { code: 'permission_denied', what: 'cannot be changed: operation not permitted' },
  ELOOP: { code: 'too_many_links', what: 'has too many levels of symbolic links, or was replaced by one' },
  ENAMETOOLONG: { code: 'name_too_long', what: 'has a name that is too long' },
  EXDEV: { code: 'cross_device', what: 'is on another file system than the destination' },
  EINVAL: { code: 'invalid_destination', what: 'cannot be moved into itself' },
  ENOSPC: { code: 'no_space', what: 'cannot be written: no space left on device', retryable: true },
};

/** Duck-typed, not `instanceof Error`: errors from node's own realm fail that test inside a vm context (jest). */
export function isErrno(err: unknown, ...codes: string[]): err is NodeJS.ErrnoException {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && codes.includes(code);
}

/** A TaskError for a failed fs call on `path` (the path as the task named it); TaskErrors and aborts pass through. */
export function fsError(err: unknown, path: string): Error {
  if (err instanceof TaskError || (err as Error | undefined)?.name === 'AbortError') return err as Error;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const known = errno ? CODES[errno] : undefined;
  if (known) return new TaskError(known.code, `"${path}" ${known.what}`, { retryable: known.retryable ?? false });
  return new TaskError('io_error', `"${path}": ${(err as Error | undefined)?.message ?? String(err)}`);
}

/** Runs `work`, turning its fs errors into task errors about `path`. */
export async function onPath<T>(path: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw fsError(err, path);
  }
}
