// scale-with-size: the project's list and stats endpoints with few and with many retained completed
// tasks; the "baseline" is the project itself at the small size.
import { cannon } from '../load.js';
import { metric, scenarioMet, type ScenarioResult } from '../report.js';
import { fill, waitCompleted, type Context } from './common.js';

const ENDPOINTS = [
  { name: 'GET /tasks?status=completed&limit=100', path: '/tasks?status=completed&limit=100' },
  { name: 'GET /stats', path: '/stats' },
] as const;

export async function scaleWithSize(ctx: Context): Promise<Omit<ScenarioResult, 'seconds'>> {
  const { retained, retainedSmall, scaleConnections: connections, scaleDuration: seconds, concurrency, repeats } = ctx.opts;
  const side = ctx.project;
  if (retained <= retainedSmall) throw new Error('--retained must be larger than --retained-small');
  const latency = { small: ENDPOINTS.map(() => [] as number[]), large: ENDPOINTS.map(() => [] as number[]) };
  const rates = { small: ENDPOINTS.map(() => [] as number[]), large: ENDPOINTS.map(() => [] as number[]) };
  const measure = async (size: 'small' | 'large'): Promise<void> => {
    for (let round = 0; round < repeats; round++) {
      for (const [i, endpoint] of ENDPOINTS.entries()) {
        const result = await cannon({ url: side.apiUrl + endpoint.path, connections, seconds });
        latency[size][i]!.push(result.latency.mean);
        rates[size][i]!.push(result.perSecond);
        ctx.log(`  ${size === 'small' ? retainedSmall : retained} retained, ${endpoint.name}: mean ${result.latency.mean.toFixed(2)} ms, ${Math.round(result.perSecond)} req/s`);
      }
    }
  };
  await side.wipe();
  const worker = await side.startWorker(concurrency);
  const fillTimes: number[] = [];
  try {
    let started = Date.now();
    await fill(ctx, side, retainedSmall);
    await waitCompleted(side, retainedSmall, 100);
    fillTimes.push((Date.now() - started) / 1000);
    await measure('small');
    started = Date.now();
    await fill(ctx, side, retained - retainedSmall);
    await waitCompleted(side, retained, 100);
    fillTimes.push((Date.now() - started) / 1000);
    await measure('large');
  } finally {
    await worker.stop();
    await side.wipe();
  }
  const target = { on: 'ratio', op: '<=', value: 1.5 } as const;
  const metrics = ENDPOINTS.map((endpoint, i) =>
    metric(`${endpoint.name} mean latency`, 'ms', { project: latency.large[i]!, baseline: latency.small[i]! }, target),
  );
  return {
    scenario: 'scale-with-size',
    method: {
      project: `autocannon GET with ${retained} completed tasks retained`,
      baseline: `the same with ${retainedSmall} completed tasks retained`,
    },
    settings: {
      retained,
      retained_small: retainedSmall,
      connections,
      duration_s: seconds,
      filled_by: `POST /tasks/batch with one apps/worker process (concurrency ${concurrency}) completing them; idle during measurement`,
      fill_seconds: fillTimes,
      req_per_s: Object.fromEntries(ENDPOINTS.map((endpoint, i) => [endpoint.name, { small: rates.small[i], large: rates.large[i] }])),
    },
    metrics,
    met: scenarioMet(metrics),
  };
}
