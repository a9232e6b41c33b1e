// The shape of a CLI command and the pieces every command shares: global options, argument parsing
// (node:util parseArgs, strict), help text, and flag value checks that end in a usage error (exit 4).
import { parseArgs } from 'node:util';
import type { TaskEngineClient } from '../client.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder shown in help, e.g. `<seconds>`. */
  value?: string;
  description: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** The parsed value of each option: a string for string options, a boolean for flags. */
export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string;
};

export const GLOBAL_OPTIONS = {
  url: { type: 'string', value: '<url>', description: 'API base URL (env TASKENGINE_URL; default http://localhost:8002)' },
  'api-key': { type: 'string', value: '<key>', description: 'API key, sent as a bearer token (env TASKENGINE_API_KEY)' },
  json: { type: 'boolean', description: "print the API's JSON only: one document on stdout" },
  help: { type: 'boolean', short: 'h', description: 'show help' },
  version: { type: 'boolean', description: 'print the version' },
} as const satisfies OptionSpecs;

export type GlobalValues = OptionValues<typeof GLOBAL_OPTIONS>;

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

export interface Context {
  client: TaskEngineClient;
  io: Io;
  /** --json: the API's JSON on stdout and nothing else there. */
  json: boolean;
  /** A line on stdout (human output). */
  out(line?: string): void;
  /** A line on stderr (progress, notes, errors). */
  err(line?: string): void;
  /** The machine output of --json: one JSON document. */
  printJson(value: unknown): void;
}

export interface Command<O extends OptionSpecs = OptionSpecs> {
  name: string;
  /** Positional arguments as shown in help, e.g. `<id>`. */
  args?: string;
  /** How many positionals it takes. @defaultValue [0, 0] */
  positionals?: [min: number, max: number];
  description: string;
  options: O;
  examples: string[];
  run(ctx: Context, values: OptionValues<O> & GlobalValues, positionals: string[]): Promise<number>;
}

/** Keeps the option types of a command literal, so `values` is typed in `run`. */
export const defineCommand = <const O extends OptionSpecs>(command: Command<O>): Command<O> => command;

/** A mistake in how the command was called: printed with a pointer to --help, exit 4. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseCommandArgs<O extends OptionSpecs>(
  command: Command<O>,
  argv: string[],
): { values: OptionValues<O> & GlobalValues; positionals: string[] } {
  const options = { ...GLOBAL_OPTIONS, ...command.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, ''));
  }
  const values = parsed.values as OptionValues<O> & GlobalValues;
  const [min, max] = command.positionals ?? [0, 0];
  if (!values.help && !values.version) {
    if (parsed.positionals.length < min) throw new UsageError(`missing ${command.args ?? 'argument'}`);
    if (parsed.positionals.length > max) throw new UsageError(`unexpected argument "${parsed.positionals[max]}"`);
  }
  return { values, positionals: parsed.positionals };
}

function optionLines(options: OptionSpecs): string[] {
  const rows = Object.entries(options).map(([name, spec]) => [
    `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`,
    spec.description,
  ]);
  const width = Math.max(...rows.map(([left]) => left!.length)) + 2;
  return rows.map(([left, right]) => `  ${left!.padEnd(width)}${right}`);
}

export function commandHelp(command: Command): string {
  return [
    `Usage: taskengine ${command.name}${command.args ? ` ${command.args}` : ''} [options]`,
    '',
    command.description,
    '',
    ...(Object.keys(command.options).length ? ['Options:', ...optionLines(command.options), ''] : []),
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Examples:',
    ...command.examples.map((example) => `  ${example}`),
  ].join('\n');
}

/** A number from a flag, checked; a usage error that names the flag otherwise. */
export function numberOption(
  value: string | undefined,
  flag: string,
  { integer = false, min = -Infinity, max = Infinity, above }: { integer?: boolean; min?: number; max?: number; above?: number } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const ok =
    value.trim() !== '' && Number.isFinite(n) && (!integer || Number.isInteger(n)) && n >= min && n <= max && (above === undefined || n > above);
  if (!ok) {
    const range = [above !== undefined ? `> ${above}` : '', min > -Infinity ? `>= ${min}` : '', max < Infinity ? `<= ${max}` : '']
      .filter(Boolean)
      .join(', ');
    throw new UsageError(`--${flag} must be ${integer ? 'a whole number' : 'a number'}${range ? ` (${range})` : ''}, not "${value}"`);
  }
  return n;
}

/** `--timeout <seconds>` of a wait, as milliseconds. */
export const waitTimeoutMs = (value: string | undefined, flag: string): number | undefined => {
  const seconds = numberOption(value, flag, { above: 0 });
  return seconds === undefined ? undefined : seconds * 1000;
};
