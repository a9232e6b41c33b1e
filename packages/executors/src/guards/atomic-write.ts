// Atomic file replacement, shared by file_operation (write, copy) and data_processing (destination):
// the data goes to a temporary file in the target's own folder (same file system, so rename is atomic),
// is flushed to disk, and is then renamed over the target. A concurrent reader sees the old file or
// the new one, never a half-written one; a failed or cancelled write leaves the target untouched and
// removes its temporary file.
import { randomBytes } from 'node:crypto';
import { link, lstat, open, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export type WriteSource = string | Uint8Array | AsyncIterable<string | Uint8Array>;

export interface AtomicWriteOptions {
  signal?: AbortSignal;
  /** Fail with EEXIST instead of replacing an existing target (link(2) is atomic and never clobbers). */
  noClobber?: boolean;
  /** File mode for a new file; an existing regular file keeps its own mode (a link being replaced does not count). */
  mode?: number;
}

/** Names of temporary files start with a dot, so a plain `ls` hides them; the name of the target is left out to stay under NAME_MAX. */
export const tempPathBeside = (target: string, kind = 'tmp'): string =>
  join(dirname(target), `.taskengine-${randomBytes(6).toString('hex')}.${kind}`);

/** Writes `source` to `target` atomically; returns the bytes written. */
export async function writeFileAtomic(target: string, source: WriteSource, options: AtomicWriteOptions = {}): Promise<number> {
  options.signal?.throwIfAborted();
  const existingMode = await lstat(target).then((s) => (s.isFile() ? s.mode & 0o7777 : undefined), () => undefined);
  const temp = tempPathBeside(target);
  const handle = await open(temp, 'wx', existingMode ?? options.mode ?? 0o666);
  let placed = false;
  try {
    if (existingMode !== undefined) await handle.chmod(existingMode); // open's mode is masked by umask
    let written = 0;
    const chunks = typeof source === 'string' || source instanceof Uint8Array ? [source] : source;
    for await (const chunk of chunks) {
      options.signal?.throwIfAborted();
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      await handle.writeFile(data); // writes all of it, at the current position
      written += data.length;
    }
    options.signal?.throwIfAborted();
    await handle.sync();
    await handle.close();
    if (options.noClobber) {
      await link(temp, target);
      await unlink(temp);
    } else {
      await rename(temp, target);
    }
    placed = true;
    return written;
  } finally {
    await handle.close().catch(() => {});
    if (!placed) await rm(temp, { force: true }).catch(() => {});
  }
}
