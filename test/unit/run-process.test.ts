// runProcess with real programs, without the engine: how a failed start is reported, that input the
// program never reads does not break anything, and that an abort stops the group (SIGKILL at once with
// a grace of 0, SIGTERM then SIGKILL otherwise).
import { chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runProcess, type RunOptions } from '@taskengine/executors/system-command/run-process';
import { killAll, pidFromFile, waitGone } from '../support/processes.js';

let dir: string;
const started = new Set<number>();

beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'taskengine-run-')));
  writeFileSync(join(dir, 'not-executable'), '#!/bin/sh\n');
  chmodSync(join(dir, 'not-executable'), 0o644);
});
afterAll(() => {
  killAll(started);
  rmSync(dir, { recursive: true, force: true });
});

function options(program: string, args: string[], extra: Partial<RunOptions> = {}): RunOptions {
  return {
    program,
    argv0: program,
    args,
    cwd: dir,
    env: { PATH: '/usr/bin:/bin' },
    maxOutputBytes: 1024,
    killGraceMs: 0,
    signal: new AbortController().signal,
    ...extra,
  };
}

describe('runProcess', () => {
  it.each<[string, string]>([
    [join('/nonexistent', 'program'), 'command_not_found'],
    ['not-executable', 'command_not_executable'],
  ])('reports a failed start of %j as %s, not retryable', async (program, code) => {
    const path = program.startsWith('/') ? program : join(dir, program);
    await expect(runProcess(options(path, []))).rejects.toMatchObject({ name: 'TaskError', code, retryable: false });
  });

  it('completes when the program exits without reading its input', async () => {
    const outcome = await runProcess(options('/bin/sh', ['-c', 'exit 0'], { stdin: 'x'.repeat(1 << 20) }));
    expect(outcome).toMatchObject({ exitCode: 0, aborted: false, leftovers: false });
  });

  it('does not start when already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled before start'));
    await expect(runProcess(options('/bin/sh', ['-c', 'exit 0'], { signal: controller.signal }))).rejects.toThrow('cancelled before start');
  });

  it.each([0, 200])('stops the whole group on abort (kill grace %i ms), even members that ignore SIGTERM', async (killGraceMs) => {
    const controller = new AbortController();
    const script = "trap '' TERM; sleep 300 & echo $! > grace-" + killGraceMs + '.pid; wait';
    const running = runProcess(options('/bin/sh', ['-c', script], { signal: controller.signal, killGraceMs }));
    const grandchild = await pidFromFile(join(dir, `grace-${killGraceMs}.pid`));
    started.add(grandchild);
    controller.abort(new Error('stop'));
    const outcome = await running;
    expect(outcome).toMatchObject({ aborted: true, exitSignal: 'SIGKILL' });
    await waitGone([grandchild]);
  });
});
