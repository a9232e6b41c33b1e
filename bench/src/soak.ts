// `npm run soak`: the real API and worker processes on a private redis-server under a steady mixed load
// for --minutes, sampled every --sample-seconds; with a short retention, so that at the end it can say
// whether memory stayed flat and whether the key count came back to its baseline once every finished
// task had left retention. Prints a table and writes bench/results/soak.json. Not part of CI.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { machine, newRunId, openRedis, ProjectSide, REPO_ROOT, stopAll, waitFor, type Child, type RedisHandle } from './env.js';
import { UsageError } from './options.js';
import { MixedLoad } from './soak/mixed-load.js';
import { parseSoakOptions } from './soak/options.js';
import { takeSample, type Sample, type SampleSources } from './soak/sampler.js';
import { flatness, keysReturned, sampleTable } from './soak/verdict.js';

const RESULTS_DIR = join(REPO_ROOT, 'bench/results');
/** How often each worker's retention janitor runs (RetentionJanitor's default), for the drain deadline. */
const JANITOR_EVERY_S = 15;

async function keysUnder(redis: RedisHandle, prefix: string): Promise<Set<string>> {
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) keys.add(key);
  } while (cursor !== '0');
  return keys;
}

async function main(): Promise<void> {
  const opts = parseSoakOptions(process.argv.slice(2), RESULTS_DIR);
  const log = (message: string): void => void process.stderr.write(`${message}\n`);
  const redis = await openRedis(opts.redisUrl);
  const retentionHours = opts.retentionSeconds / 3600;
  const project = new ProjectSide(redis, newRunId(), {
    nodeArgs: () => [],
    config: { tasks: { max_age_hours: retentionHours, failed_max_age_hours: retentionHours } },
  }, 'soak');
  const stopping = (): void => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', stopping);
  process.once('SIGTERM', stopping);
  try {
    log(`redis ${redis.private ? 'private' : 'given'} at ${redis.url}, prefix ${project.prefix}`);
    await project.startApi();
    const workers: Child[] = [];
    for (let i = 0; i < opts.workers; i++) workers.push(await project.startWorker(opts.concurrency));
    const pids: Record<string, number | undefined> = { api: project.apiPid };
    workers.forEach((w, i) => (pids[`worker${i + 1}`] = w.proc.pid));
    // The baseline is taken once every worker has registered, so its registry record is in it.
    await waitFor(async () => ((await (await fetch(`${project.apiUrl}/workers`)).json()) as { total: number }).total === opts.workers, {
      what: 'every worker in GET /workers',
    });
    const baselineKeys = await keysUnder(redis, project.prefix);
    const baselineDbsize = await redis.admin.dbsize();

    const load = new MixedLoad(project.apiUrl, opts.rate);
    const src: SampleSources = { redis, apiUrl: project.apiUrl, pids, eventsKey: `${project.prefix}:{custom}:events`, startedAt: Date.now() };
    const samples: Sample[] = [];
    const sample = async (phase: Sample['phase']): Promise<Sample> => {
      for (const w of workers) w.assertRunning();
      const s = await takeSample(src, phase);
      samples.push(s);
      log(`${s.t_s}s ${phase}: rss ${JSON.stringify(s.rss_mb)} redis ${s.redis_used_mb} MB, ${s.dbsize} keys, ${s.retained_tasks} tasks retained`);
      return s;
    };
    log(`load: ${opts.rate} tasks/s for ${opts.minutes} min, retention ${opts.retentionSeconds} s`);
    load.start();
    const loadEnds = src.startedAt + opts.minutes * 60_000;
    await sample('load');
    while (Date.now() < loadEnds) {
      await sleep(Math.min(opts.sampleSeconds * 1000, Math.max(0, loadEnds - Date.now())));
      await sample('load');
    }
    await load.stop();
    log(`load stopped: ${load.total} tasks created, ${load.errors} errors; waiting for retention to remove them`);

    // Every task must end, then leave retention; the janitors run every 15 s in each worker.
    const drainMs = (opts.retentionSeconds + 3 * JANITOR_EVERY_S + 60) * 1000;
    let drained = true;
    await waitFor(
      async () => {
        await sleep(opts.sampleSeconds * 1000);
        const s = await sample('drain');
        return s.retained_tasks === 0 && s.lifetime.finished === s.lifetime.created;
      },
      { timeoutMs: drainMs, intervalMs: 0, what: 'every task to finish and leave retention' },
    ).catch((err: Error) => {
      drained = false;
      log(err.message);
    });
    const endKeys = await keysUnder(redis, project.prefix);
    const endDbsize = await redis.admin.dbsize();
    const last = samples[samples.length - 1]!;

    const memory = flatness(samples);
    const keys = keysReturned(baselineKeys, endKeys, project.prefix);
    const summary = {
      tasks_created: load.total,
      created_by_kind: load.created,
      cancel_answers: load.cancelAnswers,
      create_errors: load.errors,
      first_error: load.firstError,
      lifetime_created: last.lifetime.created,
      lifetime_finished: last.lifetime.finished,
      lost: load.total - last.lifetime.finished,
      drained,
      memory,
      memory_flat: memory.every((m) => m.flat),
      dbsize: { baseline: baselineDbsize, end: endDbsize },
      keys,
    };
    process.stdout.write(`\n${sampleTable(samples)}\n\n`);
    for (const m of memory) {
      process.stdout.write(`${m.series.padEnd(16)} first third ${m.first_third_mean}  last third ${m.last_third_mean}  (${m.growth_pct >= 0 ? '+' : ''}${m.growth_pct}%)  ${m.flat ? 'flat' : 'GROWING'}\n`);
    }
    process.stdout.write(
      `keys under the prefix: baseline ${keys.baseline}, end ${keys.end}, task keys left ${keys.task_keys} -> ${keys.returned ? 'back to baseline' : 'NOT back'}` +
        `${keys.added.length ? ` (bookkeeping added: ${keys.added.join(', ')})` : ''}\n` +
        `tasks: ${load.total} created, ${summary.lifetime_finished} finished, lost ${summary.lost}, create errors ${load.errors}\n`,
    );
    const out = { generated_at: new Date().toISOString(), machine: machine(redis.version), options: { ...opts, redisUrl: undefined }, summary, samples };
    mkdirSync(dirname(opts.out), { recursive: true });
    writeFileSync(opts.out, `${JSON.stringify(out, null, 2)}\n`);
    log(`written ${opts.out}`);
    if (summary.lost !== 0 || load.errors > 0) process.exitCode = 1;
  } finally {
    await project.close().catch(() => {});
    await stopAll();
    await project.wipe().catch(() => {});
    await redis.stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(err instanceof UsageError ? `${err.message}\n` : `soak failed: ${err.stack ?? err.message}\n`);
  void stopAll().finally(() => process.exit(err instanceof UsageError ? 2 : 1));
});
