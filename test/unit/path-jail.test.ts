// The path jail on a real file system: lexical refusals, sibling-prefix folders, and symlinks that
// lead out of the root (followed or not, dangling or not).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PathJail, relativePathProblem } from '@taskengine/executors/guards/path-jail';

let base: string;
let root: string;
let jail: PathJail;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'taskengine-jail-')));
  root = join(base, 'root');
  mkdirSync(join(root, 'dir'), { recursive: true });
  mkdirSync(join(base, 'root-evil'));
  writeFileSync(join(base, 'secret.txt'), 'secret');
  writeFileSync(join(root, 'dir', 'inside.txt'), 'inside');
  symlinkSync(join(base, 'secret.txt'), join(root, 'out-link'));
  symlinkSync(join(base, 'root-evil'), join(root, 'out-dir'));
  symlinkSync(join(base, 'missing.txt'), join(root, 'dangling-out'));
  symlinkSync('dir/inside.txt', join(root, 'in-link'));
  symlinkSync('dir/new.txt', join(root, 'dangling-in'));
  jail = new PathJail(root);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('relativePathProblem', () => {
  it.each([
    ['../../etc/passwd', "'..'"],
    ['a/../../x', "'..'"],
    ['..', "'..'"],
    ['/etc/passwd', 'absolute'],
    ['a\0b', 'NUL'],
  ])('refuses %j', (path, why) => {
    expect(relativePathProblem(path)).toContain(why);
  });

  it.each(['a.txt', 'dir/x', '.', 'dir/./x', '..a/b', 'a..'])('accepts %j', (path) => {
    expect(relativePathProblem(path)).toBeNull();
  });
});

describe('PathJail.resolve', () => {
  const refused = { name: 'TaskError', code: 'path_outside_root', retryable: false };

  it('resolves plain paths, new files and new folders inside the root', async () => {
    await expect(jail.resolve('dir/inside.txt', { followFinal: true })).resolves.toBe(join(root, 'dir/inside.txt'));
    await expect(jail.resolve('new/deep/file.txt', { followFinal: true })).resolves.toBe(join(root, 'new/deep/file.txt'));
    await expect(jail.resolve('.', { followFinal: true })).resolves.toBe(root);
    expect(await jail.isRoot(await jail.resolve('.', { followFinal: false }))).toBe(true);
  });

  it.each(['../root-evil/x', '../../etc/passwd', '/etc/passwd', 'a\0b'])('refuses %j', async (path) => {
    await expect(jail.resolve(path, { followFinal: true })).rejects.toMatchObject(refused);
  });

  it('refuses a symlink leading out when followed, and names the link itself when not', async () => {
    await expect(jail.resolve('out-link', { followFinal: true })).rejects.toMatchObject(refused);
    await expect(jail.resolve('out-link', { followFinal: false })).resolves.toBe(join(root, 'out-link'));
  });

  it('refuses paths through a linked folder that leads out, followed or not', async () => {
    await expect(jail.resolve('out-dir/x', { followFinal: true })).rejects.toMatchObject(refused);
    await expect(jail.resolve('out-dir/x', { followFinal: false })).rejects.toMatchObject(refused);
  });

  it('checks where a dangling link would create its file', async () => {
    await expect(jail.resolve('dangling-out', { followFinal: true })).rejects.toMatchObject(refused);
    await expect(jail.resolve('dangling-in', { followFinal: true })).resolves.toBe(join(root, 'dir/new.txt'));
  });

  it('follows links that stay inside', async () => {
    await expect(jail.resolve('in-link', { followFinal: true })).resolves.toBe(join(root, 'dir/inside.txt'));
  });
});
