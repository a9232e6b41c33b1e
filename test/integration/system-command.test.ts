// system_command end to end (CONTRACT section 4): real API, real in-process worker, real Redis, real
// programs. What runs and how (splitting, quoting, stdin, cwd, env), what is refused at creation and
// leaves nothing behind, how failures end (nonzero_exit keeps its output, no retry), the output cap, and
// that cancel, timeout and worker shutdown leave no child or grandchild running.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTask, startEngine, waitForStatus, type Engine } from '../support/harness.js';
import { CHILD_WITH_GRANDCHILD, killAll, pidFromFile, waitGone } from '../support/processes.js';

const FINAL = ['completed', 'failed', 'cancelled', 'timeout'];
const ALLOWED = ['echo', 'cat', 'wc', 'ls', 'head', 'sh', 'no-such-program-te'];
const CAP = 4096;

let base: string;
let workdir: string;
let engine: Engine;
const started = new Set<number>();

function commandSettings(): Record<string, unknown> {
  return { workdir, allowed_commands: ALLOWED, max_output_bytes: CAP, kill_grace_seconds: 1 };
}

beforeAll(async () => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'taskengine-cmd-')));
  workdir = join(base, 'work');
  mkdirSync(join(base, 'outside'));
  engine = await startEngine({
    label: 'syscmd',
    overrides: { executors: { system_command: commandSettings() } },
    worker: { types: ['system_command'], concurrency: 4 },
  });
}, 20_000);

afterAll(async () => {
  killAll(started);
  await engine?.stop();
  rmSync(base, { recursive: true, force: true });
});

const NO_RETRY_YET = { max_retries: 2, retry_delay_seconds: 0 };

async function run(payload: Record<string, unknown>, config: Record<string, unknown> = NO_RETRY_YET): Promise<any> {
  const task = await createTask(engine, { type: 'system_command', payload, config });
  return waitForStatus(engine, task.id, FINAL);
}

/** A fresh folder in the work directory for one test's files. */
function folder(name: string): string {
  mkdirSync(join(workdir, name), { recursive: true });
  return join(workdir, name);
}

/** Starts the child-with-grandchild script in `cwd`; returns the task and both pids once written. */
async function startFamily(target: Engine, cwd: string, config: Record<string, unknown> = {}): Promise<{ id: string; pids: number[] }> {
  const dir = folder(cwd);
  const task = await createTask(target, { type: 'system_command', payload: { command: 'sh', args: ['-c', CHILD_WITH_GRANDCHILD], cwd }, config });
  const pids = [await pidFromFile(join(dir, 'child.pid')), await pidFromFile(join(dir, 'grandchild.pid'))];
  pids.forEach((pid) => started.add(pid));
  return { id: task.id, pids };
}

describe('running commands', () => {
  it('splits a command line into words', async () => {
    const task = await run({ command: 'echo hello world' });
    expect(task).toMatchObject({ status: 'completed', error_code: null });
    expect(task.result).toEqual({
      exit_code: 0,
      returncode: 0,
      signal: null,
      stdout: 'hello world\n',
      stderr: '',
      truncated: false,
      duration_ms: expect.any(Number),
    });
  });

  it('passes args literally, shell syntax included', async () => {
    const task = await run({ command: 'echo', args: ['$(id)', 'a;b', '*', '`id`', "it's"] });
    expect(task.result.stdout).toBe("$(id) a;b * `id` it's\n");
  });

  it('keeps quoted text literal', async () => {
    const task = await run({ command: `echo "a;b" 'c d' "x|y" 'e*f'` });
    expect(task.result.stdout).toBe('a;b c d x|y e*f\n');
  });

  it('writes stdin to the program and closes it', async () => {
    expect((await run({ command: 'cat', stdin: 'line one\nlíne two\n' })).result.stdout).toBe('line one\nlíne two\n');
    expect((await run({ command: 'wc -l', stdin: 'a\nb\nc\n' })).result.stdout.trim()).toBe('3');
  });

  it('gives a program without stdin end-of-file at once', async () => {
    const task = await run({ command: 'cat' });
    expect(task).toMatchObject({ status: 'completed', result: { stdout: '' } });
  });

  it('runs in cwd inside the work directory, HOME being the work directory', async () => {
    writeFileSync(join(folder('sub/inner'), 'marker.txt'), 'x');
    expect((await run({ command: 'ls', cwd: 'sub/inner' })).result.stdout).toBe('marker.txt\n');
    expect((await run({ command: 'sh', args: ['-c', 'pwd; echo "$HOME"'], cwd: 'sub' })).result.stdout).toBe(`${workdir}/sub\n${workdir}\n`);
  });

  it('passes the task env through', async () => {
    const task = await run({ command: 'sh', args: ['-c', 'echo "$GREETING, $LANG"'], env: { GREETING: 'hi there', LANG: 'C' } });
    expect(task.result.stdout).toBe('hi there, C\n');
  });

  it('fails a non-zero exit with nonzero_exit, keeping the output, without retry', async () => {
    const task = await run({ command: 'ls missing-file' }, { max_retries: 3, retry_delay_seconds: 0 });
    expect(task).toMatchObject({ status: 'failed', error_code: 'nonzero_exit', retry_count: 0 });
    expect(task.error).toMatch(/^command exited with code 2: ls: cannot access .*missing-file/);
    expect(task.result).toMatchObject({ exit_code: 2, returncode: 2, signal: null, stdout: '', truncated: false });
    expect(task.result.stderr).toContain('missing-file');
  });

  it('reports a program ended by a signal as killed_by_signal, without retry', async () => {
    const task = await run({ command: 'sh', args: ['-c', 'echo before; kill -SEGV $$'] });
    expect(task).toMatchObject({ status: 'failed', error_code: 'killed_by_signal', retry_count: 0 });
    expect(task.result).toMatchObject({ exit_code: null, returncode: null, signal: 'SIGSEGV', stdout: 'before\n' });
  });

  it('fails an allowed program missing from PATH with command_not_found, without retry', async () => {
    const task = await run({ command: 'no-such-program-te' });
    expect(task).toMatchObject({ status: 'failed', error_code: 'command_not_found', retry_count: 0 });
    expect(task.error).toContain('"no-such-program-te" is allowed but was not found');
  });
});

describe('output', () => {
  it('keeps max_output_bytes of a flood, drains the rest, and completes', async () => {
    const task = await run({ command: 'head -c 5000000 /dev/zero' });
    expect(task).toMatchObject({ status: 'completed', result: { exit_code: 0, truncated: true, stderr: '' } });
    expect(task.result.stdout).toHaveLength(CAP);
  });

  it('caps stderr on its own', async () => {
    const task = await run({ command: 'sh', args: ['-c', 'head -c 100000 /dev/zero | tr "\\0" e >&2; echo done'] });
    expect(task.result).toMatchObject({ stdout: 'done\n', truncated: true });
    expect(task.result.stderr).toBe('e'.repeat(CAP));
  });

  it('decodes UTF-8, invalid bytes becoming U+FFFD', async () => {
    const task = await run({ command: 'sh', args: ['-c', "printf 'caf\\303\\251 \\377!'"] });
    expect(task.result.stdout).toBe('café \uFFFD!');
  });
});

describe('refused at creation (400, nothing created)', () => {
  async function total(): Promise<number> {
    return (await engine.request('GET', '/tasks')).body.total;
  }

  it.each<[string, Record<string, unknown>, string, string]>([
    ['; rm -rf /', { command: 'echo hi; rm -rf /' }, 'payload.command', 'a command separator ";"'],
    ['$(id)', { command: 'echo $(id)' }, 'payload.command', 'command substitution "$(…)"'],
    ['backticks', { command: 'echo `id`' }, 'payload.command', 'command substitution with backticks'],
    ['&&', { command: 'echo hi && id' }, 'payload.command', 'the "&&" operator'],
    ['|', { command: 'cat /etc/passwd | sh' }, 'payload.command', 'a pipe "|"'],
    ['a newline', { command: 'echo hi\nid' }, 'payload.command', 'a newline'],
    ['>', { command: 'echo hi > owned.txt' }, 'payload.command', 'a redirection ">"'],
    ['$HOME', { command: 'echo $HOME' }, 'payload.command', 'variable expansion "$HOME"'],
    ['* glob', { command: 'ls *' }, 'payload.command', 'a glob pattern "*"'],
    ['../bin/sh', { command: '../bin/sh' }, 'payload.command', 'command "../bin/sh" is a relative path'],
    ['an absolute path not allowlisted', { command: '/bin/sh -c id' }, 'payload.command', `command "/bin/sh" is not allowed; allowed commands: ${ALLOWED.join(', ')}`],
    ['a program not allowlisted (args form)', { command: 'rm', args: ['-rf', '/'] }, 'payload.command', 'command "rm" is not allowed'],
    ['a command line in the args form', { command: 'echo hi', args: [] }, 'payload.command', 'put its arguments in "args"'],
    ['env PATH', { command: 'echo', env: { PATH: '/tmp' } }, 'payload.env.PATH', 'PATH is chosen by the engine'],
    ['env LD_PRELOAD', { command: 'echo', env: { LD_PRELOAD: '/tmp/x.so' } }, 'payload.env.LD_PRELOAD', 'loader'],
    ['env NODE_OPTIONS', { command: 'echo', env: { NODE_OPTIONS: '--require /tmp/x.js' } }, 'payload.env.NODE_OPTIONS', 'loader'],
    ['cwd ..', { command: 'ls', cwd: '../outside' }, 'payload.cwd', "must not contain '..' segments"],
    ['cwd absolute', { command: 'ls', cwd: '/etc' }, 'payload.cwd', 'must be relative'],
    ['cwd NUL', { command: 'ls', cwd: 'a\0b' }, 'payload.cwd', 'NUL'],
    ['an unknown field', { command: 'echo', shell: true }, 'payload.shell', 'unknown field'],
  ])('%s', async (_label, payload, path, what) => {
    const before = await total();
    const res = await engine.request('POST', '/tasks', { type: 'system_command', payload });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.message).toContain(what);
    expect(res.body.error.details).toEqual([{ path, message: expect.stringContaining(what) }]);
    expect(await total()).toBe(before);
  });

  it('says that no shell runs', async () => {
    const res = await engine.request('POST', '/tasks', { type: 'system_command', payload: { command: 'echo a | b' } });
    expect(res.body.error.message).toContain('shell syntax is not supported: a pipe "|" at character 8; no shell runs the command');
  });

  it('refuses the whole type when it is switched off (403)', async () => {
    const off = await startEngine({ label: 'syscmd-off', overrides: { executors: { system_command: { ...commandSettings(), enabled: false } } } });
    try {
      const res = await off.request('POST', '/tasks', { type: 'system_command', payload: { command: 'echo hi' } });
      expect(res.status).toBe(403);
      expect(res.body.error).toEqual({ code: 'forbidden', message: expect.stringContaining('executors.system_command.enabled: false') });
      expect((await off.request('GET', '/tasks')).body.total).toBe(0);
    } finally {
      await off.stop();
    }
  });
});

describe('refused at run time (no retry)', () => {
  it('fails a cwd symlinked out of the work directory with path_outside_root', async () => {
    symlinkSync(join(base, 'outside'), join(workdir, 'escape'));
    const task = await run({ command: 'ls', cwd: 'escape' }, { max_retries: 3, retry_delay_seconds: 0 });
    expect(task).toMatchObject({ status: 'failed', error_code: 'path_outside_root', retry_count: 0, result: null });
  });

  it('fails a missing cwd with cwd_not_found', async () => {
    const task = await run({ command: 'ls', cwd: 'not-there' }, { max_retries: 3, retry_delay_seconds: 0 });
    expect(task).toMatchObject({ status: 'failed', error_code: 'cwd_not_found', retry_count: 0 });
  });
});

describe('the whole process group is stopped', () => {
  it('on cancel', async () => {
    const { id, pids } = await startFamily(engine, 'cancel', { max_retries: 2 });
    const res = await engine.request('POST', `/tasks/${id}/cancel`);
    expect(res.body).toMatchObject({ status: 'cancelled', previous_status: 'running' });
    await waitGone(pids);
  });

  it('on timeout', async () => {
    const { id, pids } = await startFamily(engine, 'timeout', { timeout_seconds: 1, max_retries: 0 });
    const ended = await waitForStatus(engine, id, FINAL);
    expect(ended).toMatchObject({ status: 'timeout', error_code: 'timeout' });
    await waitGone(pids);
  });

  it('when the program exits leaving a background process (the task completes)', async () => {
    const dir = folder('leftover');
    const task = await run({ command: 'sh', args: ['-c', 'sleep 300 & echo $! > grandchild.pid; echo started'], cwd: 'leftover' });
    expect(task).toMatchObject({ status: 'completed', result: { stdout: 'started\n', exit_code: 0 } });
    const grandchild = await pidFromFile(join(dir, 'grandchild.pid'));
    started.add(grandchild);
    await waitGone([grandchild]);
  });

  it('when the worker shuts down', async () => {
    const other = await startEngine({
      label: 'syscmd-stop',
      overrides: { executors: { system_command: commandSettings() } },
      worker: { types: ['system_command'] },
    });
    try {
      const { id, pids } = await startFamily(other, 'shutdown');
      await other.worker!.stop(0);
      await waitGone(pids);
      // Handed back to the queue for another worker, as every task is at shutdown.
      expect((await other.request('GET', `/tasks/${id}`)).body.status).toBe('queued');
    } finally {
      await other.stop();
    }
  });
});
