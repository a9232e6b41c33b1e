// The `system_command` task type (CONTRACT section 4): runs one allowlisted program directly, never
// through a shell, in the work directory, with a minimal environment, and stops its whole process group
// on timeout, cancel and worker shutdown.
//
// Where a refusal happens: shell syntax, a program not on the allowlist, a bad `cwd` spelling and a
// forbidden `env` name are known from the request, so the payload schema refuses them (400 at creation).
// The worker checks the payload again with its own config; a refusal then fails the task without retry
// (`command_not_allowed`, `path_outside_root`, `invalid_payload`). What only the machine can tell (the
// program missing from PATH, a symlinked `cwd` leading out, a missing `cwd`) fails at run time, no retry.
import { stat } from 'node:fs/promises';
import { ApiError, TaskError, type Config, type TaskTypeDefinition } from '@taskengine/core';
import { z } from 'zod';
import { PathJail, relativePathProblem } from '../guards/path-jail.js';
import { splitCommandLine } from './command-line.js';
import { childEnvironment, CommandPolicy, envProblem } from './command-policy.js';
import { runProcess, type ProcessOutcome } from './run-process.js';

export const SystemCommandPayload = z
  .object({
    /** A command line split like a shell splits it, or, with `args`, one program name or path. */
    command: z.string().min(1),
    args: z.array(z.string()).optional(),
    /** Folder to run in, relative to `executors.system_command.workdir`; default the workdir itself. */
    cwd: z.string().min(1).optional(),
    env: z.record(z.string(), z.string()).optional(),
    stdin: z.string().optional(),
  })
  .strict();
export type SystemCommandPayload = z.infer<typeof SystemCommandPayload>;

export interface SystemCommandResult {
  exit_code: number | null;
  /** The earlier version's name for exit_code. */
  returncode: number | null;
  /** The signal that ended the program (e.g. SIGSEGV), null when it exited. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  duration_ms: number;
}

/** The program and its arguments; the payload has passed the schema, so the command line splits. */
function argv(payload: SystemCommandPayload): string[] {
  if (payload.args !== undefined) return [payload.command, ...payload.args];
  const split = splitCommandLine(payload.command);
  if (!split.ok) throw new TaskError('invalid_payload', `command ${split.problem}`, { retryable: false });
  return split.words;
}

function payloadSchema(policy: CommandPolicy) {
  return SystemCommandPayload.superRefine((payload, ctx) => {
    const refuse = (path: Array<string | number>, message: string, errorCode = 'invalid_payload'): void => {
      ctx.addIssue({ code: 'custom', path, message, params: { error_code: errorCode } });
    };
    let program = payload.command;
    if (payload.args === undefined) {
      const split = splitCommandLine(payload.command);
      if (!split.ok) return refuse(['command'], split.problem);
      program = split.words[0]!;
    } else {
      payload.args.forEach((arg, i) => arg.includes('\0') && refuse(['args', i], 'must not contain a NUL byte'));
    }
    const notAllowed = policy.problem(program);
    if (notAllowed) {
      const hint =
        payload.args !== undefined && /\s/.test(program)
          ? ' (with "args", "command" is one program name or path; put its arguments in "args")'
          : '';
      refuse(['command'], notAllowed + hint, 'command_not_allowed');
    }
    const cwdProblem = payload.cwd === undefined ? null : relativePathProblem(payload.cwd);
    if (cwdProblem) refuse(['cwd'], `${cwdProblem} (it is a folder inside the work directory)`, 'path_outside_root');
    for (const [name, value] of Object.entries(payload.env ?? {})) {
      const problem = envProblem(name, value);
      if (problem) refuse(['env', name], problem);
    }
  });
}

/** The last non-empty line of the program's stderr, short enough for the task's `error` sentence. */
function lastLine(text: string): string {
  const line = text.trimEnd().split('\n').pop()?.trim() ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

function toResult(outcome: ProcessOutcome): SystemCommandResult {
  return {
    exit_code: outcome.exitCode,
    returncode: outcome.exitCode,
    signal: outcome.exitSignal,
    stdout: outcome.stdout,
    stderr: outcome.stderr,
    truncated: outcome.truncated,
    duration_ms: outcome.durationMs,
  };
}

export function systemCommandTaskType(config: Config): TaskTypeDefinition<SystemCommandPayload> {
  const settings = config.executors.system_command;
  // Cheap to build: nothing touches the disk or PATH until a worker runs a task.
  const policy = new CommandPolicy(settings.allowed_commands);
  const jail = new PathJail(settings.workdir);
  const disabled = 'task type system_command is switched off (executors.system_command.enabled: false)';
  return {
    type: 'system_command',
    payloadSchema: payloadSchema(policy),
    refuse: () => (settings.enabled ? null : new ApiError(403, 'forbidden', disabled)),
    async execute(payload, ctx) {
      if (!settings.enabled) throw new TaskError('type_disabled', `${disabled} on this worker`, { retryable: false });
      const [command, ...args] = argv(payload);
      const program = policy.resolve(command!);
      const home = await jail.realRootPath();
      const cwd = await jail.resolve(payload.cwd ?? '.', { followFinal: true });
      const folder = await stat(cwd).catch(() => undefined);
      if (!folder?.isDirectory()) {
        const why = folder ? 'is not a folder' : 'does not exist';
        throw new TaskError('cwd_not_found', `cwd "${payload.cwd}" ${why} in the work directory`, { retryable: false });
      }
      // Arguments and env values are not logged: they may carry the task's secrets.
      ctx.log.debug('starting program', { program, cwd, args: args.length });
      const outcome = await runProcess({
        program,
        argv0: command!,
        args,
        cwd,
        env: childEnvironment(policy.searchPath, home, payload.env),
        stdin: payload.stdin,
        maxOutputBytes: settings.max_output_bytes,
        killGraceMs: Math.round(settings.kill_grace_seconds * 1000),
        signal: ctx.signal,
      });
      // The runner has already ended the attempt (cancelled, timed out, handed back); this only unwinds.
      if (outcome.aborted) throw ctx.signal.reason;
      if (outcome.leftovers) ctx.log.warn('the command left processes running in the background; they were stopped');
      const result = toResult(outcome);
      // Not retryable: a command may have had side effects before it failed.
      if (outcome.exitSignal) {
        throw new TaskError('killed_by_signal', `command was ended by ${outcome.exitSignal}`, { retryable: false, result });
      }
      if (outcome.exitCode !== 0) {
        const detail = lastLine(outcome.stderr);
        throw new TaskError('nonzero_exit', `command exited with code ${outcome.exitCode}${detail ? `: ${detail}` : ''}`, {
          retryable: false,
          result,
        });
      }
      return result;
    },
  };
}
