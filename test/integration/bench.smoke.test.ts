// The benchmark harness (`npm run bench`, bench/) in smoke mode, so it cannot rot: it runs every scenario
// at tiny sizes on the test Redis and reports a number for each metric. Speeds are never asserted here;
// the full run is a benchmark, not a test. It must leave no key behind in a Redis it did not start.
// Smoke mode includes `capacity` (which a full run measures only when named), with 1 and 2 API and
// worker processes, so its multi-process paths run too.
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, redisUrl, REPO_ROOT } from '../support/harness.js';

const SCENARIOS = ['ingest-single', 'ingest-batch', 'process', 'memory', 'latency', 'scale-with-size', 'cancel', 'capacity'];
/** Scenarios that measure the project alone: no baseline, no ratio. */
const PROJECT_ONLY = ['cancel', 'capacity'];
/** What capacity reports in smoke mode (1 and 2 API processes, 1 and 2 worker processes). */
const CAPACITY_METRICS = [
  'ingest-single, 1 API', 'ingest-batch, 1 API', 'ingest-single, 2 APIs', 'ingest-batch, 2 APIs',
  'process, 1 worker', 'process, 2 workers',
  'end-to-end, 1 API + 1 worker', 'end-to-end, 1 API + 2 workers', 'end-to-end, 2 APIs + 1 worker', 'end-to-end, 2 APIs + 2 workers',
  'Redis per retained completed task', 'Redis per retained completed task, +1024 B payload (echoed)', 'Redis-bound ceiling, projected',
];

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not for the child
  delete env.REDIS_URL;
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bench/dist/run.js'), ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe('benchmark harness (smoke)', () => {
  it('runs every scenario against the project and its baselines and writes a number for each metric', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskengine-bench-smoke-'));
    const out = join(dir, 'smoke.json');
    const redis = new Redis(redisUrl());
    try {
      const { code, output } = await runBench(['--smoke', '--redis-url', redisUrl(), '--out', out]);
      if (code !== 0) throw new Error(`bench exited with ${code}:\n${output}`);
      const report = JSON.parse(readFileSync(out, 'utf8'));
      expect(report.mode).toBe('smoke');
      expect(report.scenarios.map((s: { scenario: string }) => s.scenario).sort()).toEqual([...SCENARIOS].sort());
      for (const scenario of report.scenarios) {
        expect(scenario.metrics.length).toBeGreaterThan(0);
        expect(typeof scenario.settings).toBe('object');
        for (const m of scenario.metrics) {
          const where = `${scenario.scenario} / ${m.metric}`;
          expect([where, Number.isFinite(m.project)]).toEqual([where, true]);
          if (!PROJECT_ONLY.includes(scenario.scenario)) {
            // No ratio only when the baseline measured 0 (a latency below the 1 ms resolution).
            const ratioOk = Number.isFinite(m.ratio) || (m.ratio === null && m.baseline === 0);
            expect([where, Number.isFinite(m.baseline), ratioOk]).toEqual([where, true, true]);
          }
        }
      }
      for (const name of SCENARIOS) expect(output).toContain(`| ${name}`);
      // capacity: every configuration, each with its best run and range, and the CPU each process group used.
      const capacity = report.scenarios.find((s: { scenario: string }) => s.scenario === 'capacity');
      expect(capacity.metrics.map((m: { metric: string }) => m.metric)).toEqual(CAPACITY_METRICS);
      for (const m of capacity.metrics) {
        expect([m.metric, Number.isFinite(m.best), m.spread[0] <= m.best && m.best <= m.spread[1]]).toEqual([m.metric, true, true]);
      }
      for (const name of CAPACITY_METRICS.slice(0, -3)) {
        expect([name, Number.isFinite(capacity.cpu_percent[name].redis), Number.isFinite(capacity.cpu_us_per_task[name].redis)]).toEqual([name, true, true]);
      }
      expect(capacity.cpu_percent['end-to-end, 2 APIs + 2 workers']).toMatchObject({ apis: expect.any(Number), workers: expect.any(Number) });
      expect(output).toContain('capacity (CPU as % of one core):');
      // Both sides wiped their prefixes: a shared Redis is left as it was found.
      expect(await redis.keys('bench-*')).toEqual([]);
    } finally {
      await redis.quit();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
