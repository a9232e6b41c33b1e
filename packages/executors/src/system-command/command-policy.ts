// Which programs `system_command` may start, and with which environment. The allowlist
// (`executors.system_command.allowed_commands`) is the guard: arguments are passed on as given and are not
// paths the engine checks, so an allowed program that runs other programs (sh, env, xargs, find -exec,
// timeout, nice…) allows everything; operators should not list such programs.
//
// Matching is by spelling, decided from the request alone (a 400 at creation): a listed bare name
// allows that name, looked up on the worker's PATH; a listed absolute path allows exactly that path.
// A path relative to anything (`./x`, `../bin/sh`, `bin/sh`) is never allowed, and neither is `/bin/sh`
// just because `sh` is listed: what runs is what the operator wrote down.
import { isAbsolute } from 'node:path';
import { quoteInput, TaskError } from '@taskengine/core';
import which from 'which';

/** The engine's PATH without empty or relative entries, which would search the worker's current folder. */
export function absoluteSearchPath(path: string | undefined): string {
  return (path ?? '')
    .split(':')
    .filter((entry) => isAbsolute(entry))
    .join(':');
}

export class CommandPolicy {
  private readonly names = new Set<string>();
  private readonly paths = new Set<string>();
  /** Bare name → absolute path, resolved once. Misses are not cached: installing the program fixes them. */
  private readonly resolved = new Map<string, string>();
  readonly searchPath: string;

  constructor(
    readonly allowed: readonly string[],
    enginePath: string | undefined = process.env.PATH,
  ) {
    for (const entry of allowed) (entry.includes('/') ? this.paths : this.names).add(entry);
    this.searchPath = absoluteSearchPath(enginePath);
  }

  /** Why `command` may not run; null when it is allowed. Looks at the spelling only, never the disk. */
  problem(command: string): string | null {
    const listed = this.allowed.length ? this.allowed.join(', ') : '(none: allowed_commands is empty)';
    if (command.includes('/') && !isAbsolute(command)) {
      return `command ${quoteInput(command)} is a relative path, which is never allowed; allowed commands: ${listed}`;
    }
    if (!(command.includes('/') ? this.paths : this.names).has(command)) {
      return `command ${quoteInput(command)} is not allowed; allowed commands: ${listed}`;
    }
    return null;
  }

  /**
   * The absolute path of the program to start. Throws `command_not_allowed` (the worker's allowlist
   * differs from the one the task was created under) or `command_not_found` (allowed, but not on PATH);
   * neither is retryable, since running again would not change the answer.
   */
  resolve(command: string): string {
    const problem = this.problem(command);
    if (problem) throw new TaskError('command_not_allowed', problem, { retryable: false });
    if (isAbsolute(command)) return command;
    let path = this.resolved.get(command);
    if (path === undefined) {
      // `which` reads an empty PATH as "the current folder": never ask it with one.
      if (this.searchPath) path = which.sync(command, { path: this.searchPath, nothrow: true }) ?? undefined;
      if (path === undefined) {
        throw new TaskError(
          'command_not_found',
          `command "${command}" is allowed but was not found on this worker's PATH (${this.searchPath || 'empty'})`,
          { retryable: false },
        );
      }
      this.resolved.set(command, path);
    }
    return path;
  }
}

/**
 * Variables a task may not set: the program lookup and home the engine controls, and every variable that
 * makes the dynamic loader, libc, a shell or a language runtime load code or data from elsewhere (glibc
 * drops the same ones for setuid programs; see `unsecvars.h`).
 */
const ENGINE_OWNED = new Set(['PATH', 'HOME']);
const LOADER_VARIABLES = new Set([
  'NODE_OPTIONS', 'NODE_PATH', 'NODE_REPL_EXTERNAL_MODULE',
  'GCONV_PATH', 'GETCONF_DIR', 'GLIBC_TUNABLES', 'HOSTALIASES', 'LOCALDOMAIN', 'LOCPATH', 'NIS_PATH', 'NLSPATH',
  'RESOLV_HOST_CONF', 'RES_OPTIONS',
  'ENV', 'BASH_ENV', 'SHELLOPTS', 'BASHOPTS', 'IFS', 'CDPATH', 'PS4', 'PROMPT_COMMAND',
  'PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'PERL5LIB', 'PERLLIB', 'PERL5OPT', 'RUBYLIB', 'RUBYOPT',
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH',
]);
const LOADER_PREFIXES = ['LD_', 'DYLD_', 'MALLOC_', 'BASH_FUNC_'];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why a task may not set `name` (to `value`); null when it may. */
export function envProblem(name: string, value: string): string | null {
  if (!ENV_NAME.test(name)) return 'must be a variable name: letters, digits and _, not starting with a digit';
  if (value.includes('\0')) return 'must not contain a NUL byte';
  const upper = name.toUpperCase();
  if (ENGINE_OWNED.has(upper)) return `may not be set: ${upper} is chosen by the engine`;
  if (LOADER_VARIABLES.has(upper) || LOADER_PREFIXES.some((prefix) => upper.startsWith(prefix))) {
    return 'may not be set: it makes the loader or a runtime load code from elsewhere';
  }
  return null;
}

/**
 * The child's whole environment: nothing of the engine's own (its Redis URL, API keys and whatever else
 * its process.env holds never reach the program), only PATH (the one the allowlist was resolved on),
 * LANG (UTF-8, since output is decoded as UTF-8; `env` may override it), HOME (the work directory, so
 * programs that write dotfiles write them there) and the task's `env`.
 */
export function childEnvironment(searchPath: string, home: string, extra: Record<string, string> = {}): Record<string, string> {
  // PATH and HOME last: envProblem already refuses them in `extra`; this keeps it so if a check is missed.
  return { LANG: 'C.UTF-8', ...extra, PATH: searchPath, HOME: home };
}
