// Loads config.yaml, applies the environment overrides of CONTRACT section 1, validates the result with
// the Config schema and resolves relative paths against the config file's folder. Precedence, lowest
// first: schema defaults, the YAML file, the environment, explicit overrides (tests use those).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { Config, TaskType } from './schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface LoadConfigOptions {
  /** Path of the YAML file; default `TASKENGINE_CONFIG` or `./config.yaml`. A missing default file means "all defaults". */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Deep-merged over file and environment. */
  overrides?: Record<string, unknown>;
}

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isTree(value) && isTree(out[key]) ? deepMerge(out[key] as Tree, value) : value;
  }
  return out;
}

const commaList = (value: string): string[] =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);

/** The environment variables of CONTRACT section 1, as a partial config tree. */
function environmentOverrides(env: NodeJS.ProcessEnv): { tree: Tree; problems: string[] } {
  const tree: Tree = {};
  const problems: string[] = [];
  const set = (path: string[], value: unknown): void => {
    let node = tree;
    for (const key of path.slice(0, -1)) node = (node[key] as Tree | undefined) ?? (node[key] = {});
    node[path[path.length - 1]!] = value;
  };
  const integer = (name: string, path: string[]): void => {
    const raw = env[name];
    if (raw === undefined || raw === '') return;
    if (!/^\d+$/.test(raw)) problems.push(`${name}: expected a whole number, got "${raw}"`);
    else set(path, Number(raw));
  };
  if (env.REDIS_URL) set(['redis', 'url'], env.REDIS_URL);
  // Sentinel mode: REDIS_MODE=sentinel REDIS_SENTINELS=host:port,host:port REDIS_SENTINEL_NAME=mymaster.
  if (env.REDIS_MODE) set(['redis', 'mode'], env.REDIS_MODE.toLowerCase());
  // Cluster mode: REDIS_MODE=cluster REDIS_NODES=host:port,host:port (seed nodes; any one is enough).
  if (env.REDIS_NODES) set(['redis', 'nodes'], commaList(env.REDIS_NODES));
  if (env.REDIS_SENTINELS) set(['redis', 'sentinels'], commaList(env.REDIS_SENTINELS));
  if (env.REDIS_SENTINEL_NAME) set(['redis', 'name'], env.REDIS_SENTINEL_NAME);
  if (env.REDIS_SENTINEL_PASSWORD) set(['redis', 'sentinel_password'], env.REDIS_SENTINEL_PASSWORD);
  if (env.REDIS_PASSWORD) set(['redis', 'password'], env.REDIS_PASSWORD);
  integer('REDIS_WAIT_REPLICAS', ['redis', 'wait_replicas']);
  integer('REDIS_WAIT_TIMEOUT_MS', ['redis', 'wait_timeout_ms']);
  integer('PORT', ['server', 'port']);
  if (env.HOST) set(['server', 'host'], env.HOST);
  if (env.LOG_LEVEL) set(['logging', 'level'], env.LOG_LEVEL.toLowerCase());
  if (env.ONEAPI_URL) set(['dependencies', 'oneapi', 'url'], env.ONEAPI_URL);
  if (env.ONEAPI_API_KEY) set(['dependencies', 'oneapi', 'api_key'], env.ONEAPI_API_KEY);
  if (env.STATE_MACHINE_URL) set(['dependencies', 'state_machine', 'url'], env.STATE_MACHINE_URL);
  return { tree, problems };
}

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.join('.') || '(root)';
    if (issue.code === 'unrecognized_keys') {
      const prefix = issue.path.length ? `${issue.path.join('.')}.` : '';
      return `${issue.keys.map((key) => prefix + key).join(', ')}: unknown key`;
    }
    return `${path}: ${issue.message}`;
  });
}

function resolvePaths(config: Config, baseDir: string): Config {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const { executors } = config;
  executors.system_command.workdir = abs(executors.system_command.workdir);
  executors.file_operation.root = abs(executors.file_operation.root);
  for (const [name, module] of Object.entries(executors.custom.handlers)) {
    executors.custom.handlers[name] = abs(module);
  }
  return config;
}

/** Where the config file is and which folder its relative paths hang from. */
export function configLocation(options: LoadConfigOptions = {}): { path: string; explicit: boolean } {
  const env = options.env ?? process.env;
  const explicit = options.path ?? env.TASKENGINE_CONFIG;
  return { path: resolve(explicit ?? 'config.yaml'), explicit: explicit !== undefined };
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const { path, explicit } = configLocation(options);
  let fileTree: Tree = {};
  if (existsSync(path)) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ConfigError(path, [`not valid YAML: ${(err as Error).message}`]);
    }
    if (parsed !== null && parsed !== undefined && !isTree(parsed)) {
      throw new ConfigError(path, ['(root): expected a mapping of sections']);
    }
    fileTree = (parsed as Tree | null) ?? {};
  } else if (explicit) {
    throw new ConfigError(path, ['file not found']);
  }

  const fromEnv = environmentOverrides(env);
  const merged = deepMerge(deepMerge(fileTree, fromEnv.tree), options.overrides ?? {});
  const result = Config.safeParse(merged);
  const problems = [...fromEnv.problems, ...(result.success ? [] : formatIssues(result.error))];
  const workerTypes = env.WORKER_TASK_TYPES ? commaList(env.WORKER_TASK_TYPES) : [];
  for (const type of workerTypes) {
    if (!TaskType.safeParse(type).success) problems.push(`WORKER_TASK_TYPES: unknown task type "${type}"`);
  }
  if (env.WORKER_CONCURRENCY !== undefined && !/^[1-9]\d*$/.test(env.WORKER_CONCURRENCY)) {
    problems.push(`WORKER_CONCURRENCY: expected a positive whole number, got "${env.WORKER_CONCURRENCY}"`);
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(path, problems);
  // TASKENGINE_API_KEYS adds keys to the file's rather than replacing them.
  result.data.auth.api_keys.push(...(env.TASKENGINE_API_KEYS ? commaList(env.TASKENGINE_API_KEYS) : []));
  return resolvePaths(result.data, dirname(path));
}

/** The task types a worker process serves: WORKER_TASK_TYPES, default all. Validated by loadConfig. */
export function workerTaskTypes(env: NodeJS.ProcessEnv = process.env): TaskType[] {
  const listed = env.WORKER_TASK_TYPES ? commaList(env.WORKER_TASK_TYPES) : [];
  return listed.length ? (listed as TaskType[]) : [...TaskType.options];
}

/** Concurrency of one type in this worker process: WORKER_CONCURRENCY, else workers.concurrency.<type>, else max_concurrent. */
export function workerConcurrency(config: Config, type: TaskType, env: NodeJS.ProcessEnv = process.env): number {
  if (env.WORKER_CONCURRENCY) return Number(env.WORKER_CONCURRENCY);
  return config.workers.concurrency[type] ?? config.workers.max_concurrent;
}

/** For process entry points: the config, or each bad key on stderr and exit code 1. */
export function loadConfigOrExit(options: LoadConfigOptions = {}): Config {
  try {
    return loadConfig(options);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
