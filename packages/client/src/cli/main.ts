// The `taskengine` command line: finds the command, parses its options, builds the client and turns
// every error into a message on stderr and exit code 4 (CONTRACT section 6). Commands load on demand,
// so `taskengine get` does not pay for what `submit` imports.
import { DEFAULT_URL, TaskEngineClient } from '../client.js';
import { TaskEngineApiError, TaskEngineNetworkError } from '../errors.js';
import { httpFetch } from '../transport.js';
import { CLIENT_VERSION } from '../version.js';
import { commandHelp, GLOBAL_OPTIONS, parseCommandArgs, UsageError, type Command, type Context, type Io } from './command.js';
import { EXIT_USAGE } from './follow.js';

type Loader = () => Promise<{ default: Command<any> }>;

const COMMANDS: Record<string, { summary: string; load: Loader }> = {
  submit: { summary: 'submit a task from flags or --file, or many from --ndjson', load: () => import('./commands/submit.js') },
  get: { summary: 'show a task (--wait: follow it like wait)', load: () => import('./commands/get.js') },
  list: { summary: 'list tasks (--status, --type, --limit, --all)', load: () => import('./commands/list.js') },
  cancel: { summary: 'cancel a task', load: () => import('./commands/cancel.js') },
  retry: { summary: 'retry a failed, timed-out or cancelled task, or many (--status, --type)', load: () => import('./commands/retry.js') },
  wait: { summary: 'wait until a task ends; the exit code says how', load: () => import('./commands/wait.js') },
  events: { summary: "follow every task's status and progress live (resumes after a dropped connection)", load: () => import('./commands/events.js') },
  schedules: { summary: 'schedules: list, create (--every or --cron), get, delete', load: () => import('./commands/schedules.js') },
  stats: { summary: 'task statistics', load: () => import('./commands/stats.js') },
  workers: { summary: 'live worker processes', load: () => import('./commands/workers.js') },
  queues: { summary: "each task type's queue: paused, counts, workers, rate limit", load: () => import('./commands/queues.js') },
  pause: { summary: "pause a task type's queue on every worker", load: () => import('./commands/pause.js') },
  resume: { summary: "resume a task type's queue", load: () => import('./commands/resume.js') },
  health: { summary: 'health of the API and Redis', load: () => import('./commands/health.js') },
};

function rootHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;
  return [
    'Usage: taskengine <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(width)}${summary}`),
    '',
    'Global options (every command):',
    '  --url <url>      API base URL (env TASKENGINE_URL; default http://localhost:8002)',
    '  --api-key <key>  API key (env TASKENGINE_API_KEY)',
    "  --json           print the API's JSON only: one document on stdout",
    '  -h, --help       help (taskengine <command> --help for a command)',
    '  --version        print the version',
    '',
    'Exit codes: 0 success (wait: completed), 1 failed, 2 timeout, 3 cancelled, 4 usage or API error,',
    '5 the wait gave up (--timeout).',
  ].join('\n');
}

/** The command is the first argument that is neither an option nor the value of a global option. */
function splitCommand(argv: string[]): { name?: string; rest: string[] } {
  const takesValue = Object.entries(GLOBAL_OPTIONS).filter(([, spec]) => spec.type === 'string').map(([name]) => `--${name}`);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (takesValue.includes(arg)) i++;
    else if (!arg.startsWith('-')) return { name: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { rest: argv };
}

function contextFor(io: Io, json: boolean, client: TaskEngineClient): Context {
  return {
    client,
    io,
    json,
    out: (line = '') => void io.stdout.write(`${line}\n`),
    err: (line = '') => void io.stderr.write(`${line}\n`),
    printJson: (value) => void io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}

function report(io: Io, err: unknown, commandName: string | undefined): number {
  const say = (line: string): void => void io.stderr.write(`${line}\n`);
  if (err instanceof UsageError) {
    say(`taskengine: ${err.message}`);
    say(`Run "taskengine ${commandName ? `${commandName} ` : ''}--help" for usage.`);
  } else if (err instanceof TaskEngineApiError) {
    say(`taskengine: ${err.code}: ${err.message}`);
    const problems = err.problems;
    if (problems.length) problems.forEach((p) => say(`  ${p.path}: ${p.message}`));
    else if (err.details !== undefined) say(`  details: ${JSON.stringify(err.details)}`);
  } else if (err instanceof TaskEngineNetworkError) {
    say(`taskengine: ${err.message}`);
  } else {
    say(`taskengine: unexpected error: ${(err as Error)?.message ?? String(err)}`);
    if (io.env.TASKENGINE_DEBUG) say(String((err as Error)?.stack));
  }
  return EXIT_USAGE;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const { name, rest } = splitCommand(argv);
  try {
    if (name === undefined) {
      const { values } = parseCommandArgs({ name: '', description: '', options: {}, examples: [], run: async () => 0 }, rest);
      // No command: help on stdout when asked for, else on stderr as a usage error.
      const asked = values.help || values.version;
      (asked ? io.stdout : io.stderr).write(`${values.version ? CLIENT_VERSION : rootHelp()}\n`);
      return asked ? 0 : EXIT_USAGE;
    }
    const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!entry) throw new UsageError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
    const command = (await entry.load()).default;
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help || values.version) {
      io.stdout.write(`${values.help ? commandHelp(command) : CLIENT_VERSION}\n`);
      return 0;
    }
    let client: TaskEngineClient;
    try {
      client = new TaskEngineClient({
        url: values.url ?? (io.env.TASKENGINE_URL || DEFAULT_URL),
        apiKey: values['api-key'] ?? io.env.TASKENGINE_API_KEY,
        fetch: httpFetch,
      });
    } catch (err) {
      throw new UsageError(`--url / TASKENGINE_URL: ${(err as Error).message}`);
    }
    return await command.run(contextFor(io, values.json === true, client), values, positionals);
  } catch (err) {
    return report(io, err, name !== undefined && Object.hasOwn(COMMANDS, name) ? name : undefined);
  }
}
