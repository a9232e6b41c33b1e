// The system_command policy on a real file system: which spellings the allowlist accepts, how a listed
// name is resolved on PATH (once, executables only, absolute PATH entries only), which environment
// variables a task may set, and what the child's whole environment is.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { absoluteSearchPath, childEnvironment, CommandPolicy, envProblem } from '@taskengine/executors/system-command/command-policy';
import { completeUtf8Length } from '@taskengine/executors/system-command/run-process';

let base: string;
let bin1: string;
let bin2: string;

function program(dir: string, name: string, mode = 0o755): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, mode);
  return path;
}

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'taskengine-policy-')));
  bin1 = join(base, 'bin1');
  bin2 = join(base, 'bin2');
  mkdirSync(bin1);
  mkdirSync(bin2);
  program(bin1, 'tool');
  program(bin2, 'tool');
  program(bin2, 'other');
  program(bin1, 'noexec', 0o644);
  mkdirSync(join(bin1, 'adir'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('CommandPolicy.problem (decided from the request alone)', () => {
  const policy = new CommandPolicy(['echo', 'tool', '/bin/sh'], '/usr/bin:/bin');

  it.each(['echo', 'tool', '/bin/sh'])('allows %j as listed', (command) => {
    expect(policy.problem(command)).toBeNull();
  });

  it.each<[string, string]>([
    ['sh', 'command "sh" is not allowed; allowed commands: echo, tool, /bin/sh'],
    ['/usr/bin/sh', 'command "/usr/bin/sh" is not allowed'],
    ['/bin//sh', 'command "/bin//sh" is not allowed'],
    ['/usr/bin/echo', 'command "/usr/bin/echo" is not allowed'],
    ['rm', 'command "rm" is not allowed'],
    ['ECHO', 'command "ECHO" is not allowed'],
    ['../bin/sh', 'command "../bin/sh" is a relative path, which is never allowed'],
    ['./tool', 'command "./tool" is a relative path'],
    ['bin/tool', 'command "bin/tool" is a relative path'],
  ])('refuses %j', (command, message) => {
    expect(policy.problem(command)).toContain(message);
  });

  it('says when nothing is allowed', () => {
    expect(new CommandPolicy([]).problem('echo')).toContain('(none: allowed_commands is empty)');
  });
});

describe('CommandPolicy.resolve (on the worker)', () => {
  it('finds a listed name on PATH, first entry first, and keeps that answer', () => {
    const policy = new CommandPolicy(['tool'], `${bin1}:${bin2}`);
    expect(policy.resolve('tool')).toBe(join(bin1, 'tool'));
    unlinkSync(join(bin1, 'tool'));
    try {
      expect(policy.resolve('tool')).toBe(join(bin1, 'tool'));
      expect(new CommandPolicy(['tool'], `${bin1}:${bin2}`).resolve('tool')).toBe(join(bin2, 'tool'));
    } finally {
      program(bin1, 'tool');
    }
  });

  it('returns a listed absolute path as it is', () => {
    expect(new CommandPolicy(['/bin/sh'], bin1).resolve('/bin/sh')).toBe('/bin/sh');
  });

  it('refuses a command the allowlist does not name: command_not_allowed, not retryable', () => {
    expect(() => new CommandPolicy(['tool'], bin1).resolve('other')).toThrow(
      expect.objectContaining({ name: 'TaskError', code: 'command_not_allowed', retryable: false }),
    );
  });

  it.each(['noexec', 'adir', 'missing-program'])(
    'fails %j (listed, but no executable file on PATH) with command_not_found, not retryable',
    (name) => {
      const policy = new CommandPolicy([name], `${bin1}:${bin2}`);
      expect(() => policy.resolve(name)).toThrow(
        expect.objectContaining({ code: 'command_not_found', retryable: false, message: expect.stringContaining(`${bin1}:${bin2}`) }),
      );
    },
  );

  it('does not remember a miss: a program installed later is found', () => {
    const policy = new CommandPolicy(['late'], bin2);
    expect(() => policy.resolve('late')).toThrow(expect.objectContaining({ code: 'command_not_found' }));
    program(bin2, 'late');
    expect(policy.resolve('late')).toBe(join(bin2, 'late'));
  });

  it('never searches the current folder: empty and relative PATH entries are dropped', () => {
    expect(absoluteSearchPath(`:${bin1}::.:bin:${bin2}:`)).toBe(`${bin1}:${bin2}`);
    expect(absoluteSearchPath(undefined)).toBe('');
    const cwd = process.cwd();
    process.chdir(bin1);
    try {
      expect(() => new CommandPolicy(['tool'], '.:').resolve('tool')).toThrow(expect.objectContaining({ code: 'command_not_found' }));
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('envProblem', () => {
  it.each<[string, string]>([
    ['PATH', 'chosen by the engine'],
    ['path', 'chosen by the engine'],
    ['HOME', 'chosen by the engine'],
    ['LD_PRELOAD', 'loader'],
    ['LD_LIBRARY_PATH', 'loader'],
    ['ld_audit', 'loader'],
    ['DYLD_INSERT_LIBRARIES', 'loader'],
    ['NODE_OPTIONS', 'loader'],
    ['NODE_PATH', 'loader'],
    ['BASH_ENV', 'loader'],
    ['ENV', 'loader'],
    ['IFS', 'loader'],
    ['GCONV_PATH', 'loader'],
    ['GLIBC_TUNABLES', 'loader'],
    ['MALLOC_CHECK_', 'loader'],
    ['PYTHONPATH', 'loader'],
    ['PERL5OPT', 'loader'],
    ['JAVA_TOOL_OPTIONS', 'loader'],
    ['BASH_FUNC_x%%', 'must be a variable name'],
    ['A=B', 'must be a variable name'],
    ['A B', 'must be a variable name'],
    ['1A', 'must be a variable name'],
    ['', 'must be a variable name'],
  ])('refuses %j', (name, why) => {
    expect(envProblem(name, 'x')).toContain(why);
  });

  it.each(['FOO', 'LANG', 'LC_ALL', 'TZ', 'NODE_ENV', 'TMPDIR', '_x1'])('allows %j', (name) => {
    expect(envProblem(name, 'value')).toBeNull();
  });

  it('refuses a NUL byte in a value', () => {
    expect(envProblem('FOO', 'a\0b')).toContain('NUL');
  });
});

describe('childEnvironment', () => {
  it('is PATH, LANG, HOME and the task env, nothing of the engine', () => {
    expect(childEnvironment('/usr/bin:/bin', '/work', { GREETING: 'hi' })).toEqual({
      PATH: '/usr/bin:/bin',
      LANG: 'C.UTF-8',
      HOME: '/work',
      GREETING: 'hi',
    });
  });

  it('lets the task choose LANG but never PATH or HOME', () => {
    expect(childEnvironment('/bin', '/work', { LANG: 'de_DE.UTF-8', PATH: '/tmp', HOME: '/' })).toEqual({
      PATH: '/bin',
      LANG: 'de_DE.UTF-8',
      HOME: '/work',
    });
  });
});

describe('completeUtf8Length (output cut at the cap)', () => {
  it.each<[string, number, number]>([
    ['abc', 3, 3],
    ['aé', 2, 1], // é is 2 bytes: a cut after its first byte drops it
    ['aé', 3, 3],
    ['a€', 3, 1], // € is 3 bytes
    ['a😀', 4, 1], // 4 bytes
    ['a😀', 5, 5],
  ])('%j cut to %i bytes keeps %i', (text, cut, kept) => {
    expect(completeUtf8Length(Buffer.from(text).subarray(0, cut))).toBe(kept);
  });
});
