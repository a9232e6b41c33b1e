// `npm start` (CONTRACT section 1): everything on one machine. Finds Redis, or starts a private
// redis-server when none answers at a loopback URL; runs the api and one worker (all task types) as child
// processes; and on SIGINT/SIGTERM/SIGHUP stops them in order: api and worker first (the worker finishes or
// hands back its tasks, which needs Redis), then the private Redis. A child that exits on its own stops
// everything, exit code 1: a half-running engine that looks alive is worse than one that is plainly down.
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configLocation, loadConfigOrExit, type Config } from '@taskengine/core';
import { log } from './log.js';
import { describeExit, ManagedProcess } from './managed-process.js';
import { PrivateRedisFailed, RedisServerMissing, startPrivateRedis } from './private-redis.js';
import { probeRedis } from './redis-probe.js';
import { loopbackUrl, maskUrl, parseRedisUrl } from './redis-url.js';

// Resolved from this file (apps/launcher/dist/main.js), not the working directory.
const appsDir = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY_POINTS = {
  api: join(appsDir, 'api', 'dist', 'main.js'),
  worker: join(appsDir, 'worker', 'dist', 'main.js'),
} as const;
type AppName = keyof typeof ENTRY_POINTS;

/** Time the private Redis gets to write its AOF and exit after SIGTERM before it is killed. */
const REDIS_STOP_GRACE_MS = 30_000;
/** Beyond workers.shutdown_grace: the worker's own clean-up after its tasks have stopped. */
const APP_STOP_SLACK_MS = 10_000;

/** A start-up failure whose message is the whole story for the user: no stack trace. */
class Fatal extends Error {}

const NO_REDIS_HELP = [
  'Get one of:',
  '  - docker compose up                  (Redis, the API and workers in containers)',
  '  - apt-get install redis-server       (or your OS package: brew install redis, dnf install redis)',
  '  - REDIS_URL=redis://host:6379 npm start   (a Redis that already runs)',
].join('\n');

class Launcher {
  private readonly apps = new Map<AppName, ManagedProcess>();
  private redis: ManagedProcess | undefined;
  private stopping: Promise<void> | null = null;
  private repeatedSignalNoted = false;

  constructor(private readonly config: Config) {}

  get isStopping(): boolean {
    return this.stopping !== null;
  }

  async start(): Promise<void> {
    const { mode, url } = this.config.redis;
    let env: NodeJS.ProcessEnv = process.env;
    if (mode === 'standalone') {
      const urlInUse = await this.ensureRedis(url);
      // Whatever the children would make of the file and environment, they use the Redis checked here.
      env = { ...process.env, REDIS_URL: urlInUse };
    } else {
      log(`redis.mode is ${mode}: the api and worker connect to Redis themselves`);
    }
    if (this.isStopping) return;
    for (const name of Object.keys(ENTRY_POINTS) as AppName[]) this.startApp(name, env);
    const pids = [...this.apps].map(([name, app]) => `${name} pid ${app.pid}`).join(', ');
    log(`started ${pids}; API on port ${this.config.server.port}`);
  }

  /** The URL the children are to use: the configured one, or the private Redis's loopback one. */
  private async ensureRedis(url: string): Promise<string> {
    const shown = maskUrl(url);
    const probe = await probeRedis(url, 1000);
    if (probe.state === 'ready') {
      log(`using Redis at ${shown}`);
      return url;
    }
    if (probe.state === 'loading') {
      log(`Redis at ${shown} is loading its data; the api and worker wait for it`);
      return url;
    }
    if (probe.state === 'refused') {
      throw new Fatal(`Redis at ${shown} answers but refuses the connection: ${probe.reason}\n` +
        'Check the credentials in REDIS_URL or redis.url.');
    }
    const target = parseRedisUrl(url);
    if (!target?.local) {
      throw new Fatal(`Redis at ${shown} does not answer (${probe.reason}). ` +
        'Start it, or set REDIS_URL to a Redis that runs.');
    }
    if (this.isStopping) return url;

    const dataDir = resolve(dirname(configLocation().path), 'data', 'redis');
    const privateUrl = loopbackUrl(url);
    log(`no Redis answers at ${shown}; starting a private redis-server on 127.0.0.1:${target.port}`);
    try {
      const redis = await startPrivateRedis({
        port: target.port,
        dataDir,
        url: privateUrl,
        username: target.username,
        password: target.password,
        onSpawn: (spawned) => {
          this.redis = spawned;
        },
        onLoading: () => log('the private Redis is loading its data'),
      });
      if (this.isStopping) return privateUrl; // stop() has it in hand
      log(`started a private Redis (pid ${redis.pid}) on 127.0.0.1:${target.port}; data in ${dataDir} ` +
        '(AOF on, log in redis.log); it stops when TaskEngine stops');
      void redis.exited.then((status) => {
        if (this.isStopping) return;
        log(`the private Redis ${describeExit(status)} unexpectedly (see ${join(dataDir, 'redis.log')}); stopping`);
        void this.stop(1);
      });
    } catch (err) {
      if (err instanceof RedisServerMissing) {
        throw new Fatal(`no Redis answers at ${shown}, and there is no redis-server to start a private one.\n` +
          NO_REDIS_HELP);
      }
      if (err instanceof PrivateRedisFailed) throw new Fatal(`could not start a private Redis: ${err.message}`);
      throw err;
    }
    return privateUrl;
  }

  private startApp(name: AppName, env: NodeJS.ProcessEnv): void {
    // stdin stays with the launcher: the children run in their own sessions and have no use for it.
    const app = ManagedProcess.spawn(name, process.execPath, [ENTRY_POINTS[name]], {
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    this.apps.set(name, app);
    void app.exited.then((status) => {
      if (this.isStopping) return;
      log(`${name} ${describeExit(status)} unexpectedly; stopping`);
      void this.stop(1);
    });
  }

  onSignal(signal: NodeJS.Signals): void {
    if (!this.isStopping) {
      log(`${signal} received; stopping`);
      void this.stop(0);
    } else if (!this.repeatedSignalNoted) {
      // npm and a terminal may both deliver one Ctrl-C; a second signal must not cut the worker's grace short.
      this.repeatedSignalNoted = true;
      log(`${signal} received; already stopping (the worker may take up to ${this.config.workers.shutdown_grace} s)`);
    }
  }

  /** Stops everything once, in order, then exits the process with `exitCode`; later calls wait for the first. */
  stop(exitCode: number): Promise<void> {
    this.stopping ??= this.shutdown(exitCode);
    return this.stopping;
  }

  private async shutdown(exitCode: number): Promise<void> {
    const graceMs = this.config.workers.shutdown_grace * 1000 + APP_STOP_SLACK_MS;
    const running = [...this.apps].filter(([, app]) => app.running);
    if (running.length > 0) log(`stopping ${running.map(([name]) => name).join(' and ')}`);
    await Promise.all(
      running.map(async ([name, app]) => {
        const { status, forced } = await app.stop(graceMs);
        if (forced) log(`${name} did not stop within ${Math.round(graceMs / 1000)} s; killed it`);
        else if (status.code !== 0 && exitCode === 0) log(`${name} ${describeExit(status)}`);
      }),
    );
    if (this.redis?.running) {
      log('stopping the private Redis');
      const { forced } = await this.redis.stop(REDIS_STOP_GRACE_MS);
      if (forced) log(`the private Redis did not stop within ${REDIS_STOP_GRACE_MS / 1000} s; killed it`);
    }
    if (running.length > 0 || this.redis) log('stopped');
    process.exit(exitCode);
  }

  /** Last resort on an unplanned exit: no child may outlive the launcher. */
  signalAll(signal: NodeJS.Signals): void {
    for (const app of this.apps.values()) app.signal(signal);
    this.redis?.signal(signal);
  }
}

function main(): void {
  const config = loadConfigOrExit();

  const missing = Object.values(ENTRY_POINTS).filter((file) => !existsSync(file));
  if (missing.length > 0) {
    log(`${missing.map((file) => relative(process.cwd(), file)).join(' and ')} not found: run \`npm run build\` first`);
    process.exit(1);
  }

  const launcher = new Launcher(config);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => launcher.onSignal(signal));
  }
  const crash = (err: unknown): void => {
    log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    void launcher.stop(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  process.on('exit', () => launcher.signalAll('SIGTERM'));

  launcher.start().catch((err: unknown) => {
    if (launcher.isStopping) return; // a signal arrived during start-up; stop() is already on it
    if (err instanceof Fatal) {
      log(err.message);
      void launcher.stop(1);
    } else {
      crash(err);
    }
  });
}

main();
