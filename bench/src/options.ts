// Command line of `npm run bench` (node bench/dist/run.js).
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export const SCENARIOS = ['ingest-single', 'ingest-batch', 'process', 'latency', 'scale-with-size', 'memory', 'cancel', 'capacity'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/**
 * What a run without --scenarios measures: every comparison with plain BullMQ. `capacity` (the engine's own
 * figures with several processes, no baseline, several minutes) runs when named, and in --smoke mode, so
 * the smoke test keeps it working.
 */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = SCENARIOS.filter((name) => name !== 'capacity');

export interface Options {
  scenarios: ScenarioName[];
  smoke: boolean;
  /** Seconds of each autocannon run (ingest) and of the latency run's offered load. */
  duration: number;
  /** Seconds of each autocannon run of scale-with-size. */
  scaleDuration: number;
  /** Seconds of unrecorded load before each ingest run, so both servers are warm. */
  warmup: number;
  /**
   * Seconds of unrecorded load before each latency run. Longer than ingest's: the worker starts fresh
   * for each run, and the tail of a p99 is where a process still compiling its hot paths shows.
   */
  latencyWarmup: number;
  /** Runs per side; sides alternate (project first in even rounds, baseline first in odd ones). */
  repeats: number;
  connections: number;
  batchSize: number;
  batchConnections: number;
  concurrency: number;
  tasks: number;
  latencyRate: number;
  retained: number;
  retainedSmall: number;
  scaleConnections: number;
  cancels: number;
  /** capacity: the worker process counts measured (process and end-to-end). */
  workers: number[];
  /** capacity: the API process counts measured (ingest and end-to-end). */
  apis: number[];
  /** capacity end-to-end: tasks per POST /tasks/batch of the load generator. */
  e2eBatchSize: number;
  /** capacity end-to-end: queued tasks above which the load generator holds off, so created ≈ completed. */
  e2eBacklog: number;
  redisUrl: string | undefined;
  out: string;
  cpuProf: boolean;
}

const HELP = `Usage: npm run bench -- [options]

  --scenarios a,b        which to run (or --scenario a): ${SCENARIOS.join(', ')}
                         (default: all but capacity; --smoke: all)
  --duration S           seconds per ingest run and of the latency run's load (default 10)
  --scale-duration S     seconds per scale-with-size measurement (default 5)
  --warmup S             unrecorded load before each ingest run (default 1)
  --latency-warmup S     unrecorded load at the offered rate before each latency run, and before each
                         capacity end-to-end run (default 4)
  --repeats N            runs per side, in alternating order; figures are medians (default 3)
  --tasks N              tasks of the process and memory runs (default 20000)
  --retained N           tasks retained in scale-with-size's large run (default 200000)
  --retained-small N     ... in its small run (default 10000)
  --connections N        autocannon connections of ingest-single (default 64)
  --batch-size N         tasks per POST /tasks/batch and per addBulk (default 1000)
  --batch-connections N  batches in flight in ingest-batch and capacity end-to-end (default 4)
  --concurrency N        worker concurrency (default 100)
  --rate N               tasks/s offered in the latency run (default 500)
  --scale-connections N  autocannon connections of scale-with-size (default 16)
  --cancels N            cancels measured (default 50)
  --workers a,b          capacity: worker process counts to measure (default 1,2,3)
  --apis a,b             capacity: API process counts to measure (default 1,2)
  --e2e-batch-size N     capacity end-to-end: tasks per POST /tasks/batch (default 100)
  --e2e-backlog N        capacity end-to-end: queued tasks above which the load holds off (default 2000)
  --smoke                tiny sizes, a second or so per scenario; writes bench/results/smoke.json
  --redis-url URL        use this Redis (also REDIS_URL); default: a private redis-server
  --out FILE             where to write the results (default bench/results/latest.json; capacity.json
                         when capacity is the only scenario)
  --cpu-prof             profile both sides' API and worker processes (bench/results/profiles)
`;

/** The value of option `--name` as a positive number (a whole one when `integer`); throws naming it. */
export function positiveNumber(name: string, raw: string, integer: boolean): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`--${name}: expected a positive ${integer ? 'whole ' : ''}number, got "${raw}"`);
  }
  return value;
}

/** A bad command line: reported as one line, without a stack. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseOptions(argv: string[], resultsDir: string): Options {
  try {
    return parseCommandLine(argv, resultsDir);
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
}

function parseCommandLine(argv: string[], resultsDir: string): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenarios: { type: 'string' },
      scenario: { type: 'string' },
      duration: { type: 'string' },
      'scale-duration': { type: 'string' },
      warmup: { type: 'string' },
      'latency-warmup': { type: 'string' },
      repeats: { type: 'string' },
      tasks: { type: 'string' },
      retained: { type: 'string' },
      'retained-small': { type: 'string' },
      connections: { type: 'string' },
      'batch-size': { type: 'string' },
      'batch-connections': { type: 'string' },
      concurrency: { type: 'string' },
      rate: { type: 'string' },
      'scale-connections': { type: 'string' },
      cancels: { type: 'string' },
      workers: { type: 'string' },
      apis: { type: 'string' },
      'e2e-batch-size': { type: 'string' },
      'e2e-backlog': { type: 'string' },
      smoke: { type: 'boolean', default: false },
      'redis-url': { type: 'string' },
      out: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const smoke = values.smoke ?? false;
  const num = (name: keyof typeof values, normal: number, tiny: number, integer = true): number => {
    const raw = values[name];
    return raw === undefined ? (smoke ? tiny : normal) : positiveNumber(name, String(raw), integer);
  };
  // --scenario is the same option, for a run of one (`--scenario capacity`).
  const named = values.scenarios ?? values.scenario;
  const scenarios = named ? named.split(',').map((s) => s.trim()).filter(Boolean) : smoke ? [...SCENARIOS] : [...DEFAULT_SCENARIOS];
  for (const name of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`--scenarios: unknown scenario "${name}"; known: ${SCENARIOS.join(', ')}`);
  }
  // 0 is a valid warm-up (none), which positiveNumber refuses.
  const seconds = (name: 'warmup' | 'latency-warmup', normal: number): number => (values[name] === '0' ? 0 : num(name, normal, 0, false));
  const counts = (name: 'workers' | 'apis', normal: number[], tiny: number[]): number[] => {
    const raw = values[name];
    if (raw === undefined) return smoke ? tiny : normal;
    const list = raw.split(',').map((part) => positiveNumber(name, part.trim(), true));
    return [...new Set(list)].sort((a, b) => a - b);
  };
  const onlyCapacity = scenarios.length === 1 && scenarios[0] === 'capacity';
  return {
    scenarios: scenarios as ScenarioName[],
    smoke,
    duration: num('duration', 10, 0.3, false),
    scaleDuration: num('scale-duration', 5, 0.2, false),
    warmup: seconds('warmup', 1),
    latencyWarmup: seconds('latency-warmup', 4),
    repeats: num('repeats', 3, 1),
    tasks: num('tasks', 20_000, 200),
    retained: num('retained', 200_000, 1000),
    retainedSmall: num('retained-small', 10_000, 200),
    connections: num('connections', 64, 16),
    batchSize: num('batch-size', 1000, 100),
    batchConnections: num('batch-connections', 4, 2),
    concurrency: num('concurrency', 100, 100),
    latencyRate: num('rate', 500, 500),
    scaleConnections: num('scale-connections', 16, 4),
    cancels: num('cancels', 50, 3),
    workers: counts('workers', [1, 2, 3], [1, 2]),
    apis: counts('apis', [1, 2], [1, 2]),
    e2eBatchSize: num('e2e-batch-size', 100, 20),
    e2eBacklog: num('e2e-backlog', 2000, 100),
    redisUrl: values['redis-url'] ?? process.env.REDIS_URL ?? undefined,
    out: values.out ?? join(resultsDir, smoke ? 'smoke.json' : onlyCapacity ? 'capacity.json' : 'latest.json'),
    cpuProf: values['cpu-prof'] ?? false,
  };
}
