// scale-with-size: the project's list and stats endpoints with many retained completed tasks, against
// the same with few. Two deployments of the project (API processes under prefixes of their own, on the
// same Redis) hold the two sizes, so they can be measured in alternating order once both are filled.
import type { ProjectSide } from '../env.js';
import { cannon } from '../load.js';
import { metric, scenarioMet, type ScenarioResult } from '../report.js';
import { fill, waitCompleted, type Context } from './common.js';

const ENDPOINTS = [
  { name: 'GET /tasks?status=completed&limit=100', path: '/tasks?status=completed&limit=100' },
  { name: 'GET /stats', path: '/stats' },
] as const;

/** Fills a deployment with `count` completed tasks (batch API, one worker process); returns the seconds taken. */
async function fillCompleted(ctx: Context, side: ProjectSide, count: number): Promise<number> {
  const started = Date.now();
  const worker = await side.startWorker(ctx.opts.concurrency);
  try {
    await fill(ctx, side, count);
    await waitCompleted(side, count, 100);
  } finally {
    await worker.stop();
  }
  return (Date.now() - started) / 1000;
}

export async function scaleWithSize(ctx: Context): Promise<Omit<ScenarioResult, 'seconds'>> {
  const { retained, retainedSmall, scaleConnections: connections, scaleDuration: seconds, warmup, repeats } = ctx.opts;
  if (retained <= retainedSmall) throw new Error('--retained must be larger than --retained-small');
  const large = ctx.project;
  const small = large.sibling('te-small');
  const sizes = [
    { side: small, retained: retainedSmall, latency: ENDPOINTS.map(() => [] as number[]), rates: ENDPOINTS.map(() => [] as number[]) },
    { side: large, retained, latency: ENDPOINTS.map(() => [] as number[]), rates: ENDPOINTS.map(() => [] as number[]) },
  ];
  const fillSeconds: number[] = [];
  try {
    await small.startApi();
    for (const size of sizes) {
      await size.side.wipe();
      fillSeconds.push(await fillCompleted(ctx, size.side, size.retained));
    }
    for (const { side } of sizes) {
      for (const endpoint of ENDPOINTS) if (warmup > 0) await cannon({ url: side.apiUrl + endpoint.path, connections, seconds: warmup });
    }
    for (let round = 0; round < repeats; round++) {
      for (const size of round % 2 === 0 ? sizes : [...sizes].reverse()) {
        for (const [i, endpoint] of ENDPOINTS.entries()) {
          const result = await cannon({ url: size.side.apiUrl + endpoint.path, connections, seconds });
          size.latency[i]!.push(result.latency.mean);
          size.rates[i]!.push(result.perSecond);
          ctx.log(`  ${size.retained} retained, ${endpoint.name}: mean ${result.latency.mean.toFixed(2)} ms, ${Math.round(result.perSecond)} req/s`);
        }
      }
    }
  } finally {
    await small.close();
    await small.wipe();
    await large.wipe();
  }
  const [few, many] = sizes as [(typeof sizes)[0], (typeof sizes)[0]];
  const target = { on: 'ratio', op: '<=', value: 1.5 } as const;
  const metrics = ENDPOINTS.map((endpoint, i) =>
    metric(`${endpoint.name} mean latency`, 'ms', { project: many.latency[i]!, baseline: few.latency[i]! }, target),
  );
  return {
    scenario: 'scale-with-size',
    method: {
      project: `autocannon GET against an API whose Redis prefix holds ${retained} completed tasks`,
      baseline: `the same against a second API process (same code and Redis) whose prefix holds ${retainedSmall}`,
    },
    settings: {
      retained,
      retained_small: retainedSmall,
      connections,
      duration_s: seconds,
      warmup_s: warmup,
      filled_by: `POST /tasks/batch with one apps/worker process (concurrency ${ctx.opts.concurrency}) completing them; no worker during measurement`,
      fill_seconds: { small: fillSeconds[0], large: fillSeconds[1] },
      req_per_s: Object.fromEntries(ENDPOINTS.map((endpoint, i) => [endpoint.name, { small: few.rates[i], large: many.rates[i] }])),
    },
    metrics,
    met: scenarioMet(metrics),
  };
}
