// `npm run bench`: runs the project and plain-BullMQ baselines side by side on one Redis, prints a
// table of figures and ratios, and writes them as JSON (bench/results/latest.json; smoke.json with --smoke).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { BaselineSide, machine, newRunId, openRedis, ProjectSide, REPO_ROOT, stopAll } from './env.js';
import { parseOptions, UsageError, type ScenarioName } from './options.js';
import { table, type ScenarioResult } from './report.js';
import { cancel } from './scenarios/cancel.js';
import { capacity } from './scenarios/capacity.js';
import { capacityTable } from './scenarios/capacity-table.js';
import type { Context } from './scenarios/common.js';
import { ingestBatch, ingestSingle } from './scenarios/ingest.js';
import { latency } from './scenarios/latency.js';
import { processAndMemory } from './scenarios/process.js';
import { scaleWithSize } from './scenarios/scale.js';

const RESULTS_DIR = join(REPO_ROOT, 'bench/results');

function gitCommit(): string | null {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${commit}+changes` : commit;
  } catch {
    return null;
  }
}

type Partial = Omit<ScenarioResult, 'seconds'>;

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2), RESULTS_DIR);
  const log = (message: string): void => void process.stderr.write(`${message}\n`);
  const began = Date.now();
  // What else kept the machine busy as the run began (a shared machine's figures move with it).
  const loadBefore = loadavg().map((n) => Math.round(n * 100) / 100);
  const redis = await openRedis(opts.redisUrl);
  const runId = newRunId();
  const profileDir = join(RESULTS_DIR, 'profiles');
  if (opts.cpuProf) mkdirSync(profileDir, { recursive: true });
  // Both sides are profiled, so a profile of the project can be read against the baseline's.
  let spawned = 0;
  const nodeArgs = (name: string): string[] =>
    opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${runId}-${++spawned}-${name}.cpuprofile`] : [];
  const project = new ProjectSide(redis, runId, { nodeArgs });
  const baseline = new BaselineSide(redis, runId, { nodeArgs });
  const ctx: Context = { opts, redis, project, baseline, log };
  const results: ScenarioResult[] = [];
  const stopping = (): void => {
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopping);
  process.once('SIGTERM', stopping);
  try {
    log(`redis ${redis.private ? 'private' : 'given'} at ${redis.url}, prefixes ${project.prefix} / ${baseline.prefix}`);
    // capacity and cancel measure the project alone.
    const needsBaseline = opts.scenarios.some((name) => name !== 'capacity' && name !== 'cancel');
    await Promise.all([project.startApi(), needsBaseline ? baseline.startApi() : Promise.resolve()]);
    const timedScenario = async (name: ScenarioName, work: () => Promise<Partial>): Promise<void> => {
      log(`${name}:`);
      const started = Date.now();
      results.push({ ...(await work()), seconds: (Date.now() - started) / 1000 });
    };
    const wanted = (name: ScenarioName): boolean => opts.scenarios.includes(name);
    if (wanted('ingest-single')) await timedScenario('ingest-single', () => ingestSingle(ctx));
    if (wanted('ingest-batch')) await timedScenario('ingest-batch', () => ingestBatch(ctx));
    if (wanted('process') || wanted('memory')) {
      const label: ScenarioName = wanted('process') ? 'process' : 'memory';
      log(`${wanted('process') && wanted('memory') ? 'process + memory' : label}:`);
      const started = Date.now();
      const both = await processAndMemory(ctx);
      const seconds = (Date.now() - started) / 1000;
      if (wanted('process')) results.push({ ...both.process, seconds });
      if (wanted('memory')) results.push({ ...both.memory, seconds });
    }
    if (wanted('latency')) await timedScenario('latency', () => latency(ctx));
    if (wanted('scale-with-size')) await timedScenario('scale-with-size', () => scaleWithSize(ctx));
    if (wanted('cancel')) await timedScenario('cancel', () => cancel(ctx));
    if (wanted('capacity')) await timedScenario('capacity', () => capacity(ctx));
  } finally {
    await project.close().catch(() => {});
    await baseline.close().catch(() => {});
    await stopAll();
    // Nothing of the run stays behind in a Redis the benchmark did not start.
    await project.wipe();
    await baseline.wipe();
    await redis.stop();
  }
  const report = {
    generated_at: new Date().toISOString(),
    commit: gitCommit(),
    machine: { ...machine(redis.version), load_average_before: loadBefore },
    mode: opts.smoke ? 'smoke' : 'full',
    total_seconds: (Date.now() - began) / 1000,
    options: { ...opts, redisUrl: opts.redisUrl ? 'given' : 'private redis-server' },
    scenarios: results,
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
  const capacityResult = results.find((result) => result.scenario === 'capacity');
  const capacityText = capacityResult ? `\n\ncapacity (CPU as % of one core):\n${capacityTable(capacityResult, cpus().length)}` : '';
  process.stdout.write(`\n${table(results)}${capacityText}\n\nwritten to ${opts.out} (${Math.round(report.total_seconds)} s)\n`);
}

main().catch(async (err: Error) => {
  process.stderr.write(err instanceof UsageError ? `${err.message}\n` : `benchmark failed: ${err.stack ?? err.message}\n`);
  await stopAll().catch(() => {});
  process.exit(1);
});
