// Command line of `npm run soak` (node bench/dist/soak.js).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { positiveNumber, UsageError } from '../options.js';

export interface SoakOptions {
  /** How long the load runs. */
  minutes: number;
  /** Tasks created per second. */
  rate: number;
  /** Seconds between two samples of memory and key counts. */
  sampleSeconds: number;
  /** tasks.max_age_hours and failed_max_age_hours, in seconds: how long finished tasks stay. */
  retentionSeconds: number;
  /** Worker processes, and the concurrency of each. */
  workers: number;
  concurrency: number;
  redisUrl: string | undefined;
  out: string;
}

const HELP = `Usage: npm run soak -- [options]

Runs the real API and worker processes on a private redis-server under a steady mixed load (echo, sleep,
fail, timeout, cancel), samples their memory and Redis's, and reports whether memory stayed flat and the
key count came back to its baseline once retention had removed the finished tasks. Not part of CI.

  --minutes N            how long the load runs (default 10)
  --rate N               tasks created per second (default 20)
  --sample-seconds N     seconds between samples (default 10)
  --retention-seconds N  how long finished tasks are kept (default 30)
  --workers N            worker processes (default 2)
  --concurrency N        concurrency of each worker (default 10)
  --redis-url URL        use this Redis (also REDIS_URL); default: a private redis-server
  --out FILE             where to write the results (default bench/results/soak.json)
`;

export function parseSoakOptions(argv: string[], resultsDir: string): SoakOptions {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        minutes: { type: 'string' },
        rate: { type: 'string' },
        'sample-seconds': { type: 'string' },
        'retention-seconds': { type: 'string' },
        workers: { type: 'string' },
        concurrency: { type: 'string' },
        'redis-url': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(HELP);
      process.exit(0);
    }
    const num = (name: keyof typeof values, fallback: number, integer = false): number => {
      const raw = values[name];
      return raw === undefined ? fallback : positiveNumber(name, String(raw), integer);
    };
    return {
      minutes: num('minutes', 10),
      rate: num('rate', 20),
      sampleSeconds: num('sample-seconds', 10),
      retentionSeconds: num('retention-seconds', 30),
      workers: num('workers', 2, true),
      concurrency: num('concurrency', 10, true),
      redisUrl: values['redis-url'] ?? process.env.REDIS_URL ?? undefined,
      out: values.out ?? join(resultsDir, 'soak.json'),
    };
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
}
