// The container files, without a Docker engine: docker-compose.yml read by docker-compose's own parser
// (Debian's docker-compose v1 parses and normalises without an engine), the Dockerfile read and its
// file steps replayed in a temporary folder (support/dockerfile.ts), and every command compose runs
// started from the replayed image's files against the test Redis, then stopped with SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TASK_TYPES, workerTaskTypes } from '@taskengine/core';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { dockerignoreMatcher, replayDockerfile, words, type ReplayedImage } from '../support/dockerfile.js';
import { deletePrefix, Redis, redisUrl, REPO_ROOT, request, uniquePrefix, waitFor } from '../support/harness.js';
import { freePort } from '../support/redis-server.js';

type Service = Record<string, any>;
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

const emptyEnvFile = join(mkdtempSync(join(tmpdir(), 'taskengine-compose-')), 'empty.env');
writeFileSync(emptyEnvFile, '');

/** `docker-compose config`: the file as docker-compose reads it, anchors merged, variables filled in. */
function composeConfig(env: Record<string, string> = {}, args: string[] = []): Compose {
  // A clean environment and an empty env file: the defaults written in the file, not the caller's shell.
  const result = spawnSync('docker-compose', ['--env-file', emptyEnvFile, '-f', join(REPO_ROOT, 'docker-compose.yml'), ...args, 'config'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), ...env },
    encoding: 'utf8',
  });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error("docker-compose not found: this test reads docker-compose.yml with Debian's docker-compose package " +
      '(apt-get install --no-install-recommends docker-compose; .ci/run installs it)');
  }
  if (result.status !== 0) throw new Error(`docker-compose config failed (${result.status}): ${result.stderr}`);
  return parseYaml(result.stdout) as Compose;
}

const seconds = (duration: string): number => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(duration);
  if (!match) throw new Error(`not a compose duration: ${duration}`);
  return Number(match[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] as 'ms' | 's' | 'm' | 'h'];
};

const repoConfig = parseYaml(readFileSync(join(REPO_ROOT, 'config.yaml'), 'utf8')) as Record<string, any>;
const rootManifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[]; devDependencies: Record<string, string> };

let compose: Compose;
let image: ReplayedImage;
let appDir: string;

beforeAll(() => {
  compose = composeConfig();
});
afterAll(() => {
  rmSync(join(emptyEnvFile, '..'), { recursive: true, force: true });
});

describe('docker-compose.yml, as docker-compose reads it', () => {
  it('runs Redis with AOF fsynced every second, no eviction, a volume, a health check and no published port', () => {
    const redis = compose.services.redis!;
    expect(redis.image).toMatch(/^redis:7/);
    const command: string[] = redis.command;
    const option = (name: string): string | undefined => command[command.indexOf(name) + 1];
    expect(command[0]).toBe('redis-server');
    expect(option('--appendonly')).toBe('yes');
    expect(option('--appendfsync')).toBe('everysec');
    expect(option('--maxmemory-policy')).toBe('noeviction');
    expect(redis.volumes).toEqual([expect.stringMatching(/^redis-data:\/data(:rw)?$/)]);
    expect(compose.volumes).toHaveProperty('redis-data');
    expect(redis.healthcheck.test.join(' ')).toContain('redis-cli ping');
    expect(redis.ports).toBeUndefined();
  });

  it('publishes the api on 8002 with a health check on /health, once Redis is healthy', () => {
    const api = compose.services.api!;
    expect(api.ports).toEqual([{ published: 8002, target: 8002 }]);
    expect(api.healthcheck.test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
    expect(api.healthcheck.test[3]).toContain('/health');
    expect(api.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    expect(api.environment.REDIS_URL).toBe('redis://redis:6379');
    expect(api.environment.TASKENGINE_API_KEYS).toBe('');
  });

  it('lets workers scale: no container_name, no ports, and a stop grace beyond workers.shutdown_grace', () => {
    for (const name of ['worker', 'worker-ai']) {
      const worker = compose.services[name]!;
      expect({ name, container_name: worker.container_name, ports: worker.ports }).toEqual({ name, container_name: undefined, ports: undefined });
      expect(seconds(worker.stop_grace_period)).toBeGreaterThan(repoConfig.workers.shutdown_grace);
      expect(worker.init).toBe(true);
      expect(worker.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
      expect(worker.volumes).toEqual(compose.services.api!.volumes);
    }
    // Only the api publishes a port, and no service pins a container name.
    for (const [name, service] of Object.entries(compose.services)) {
      expect({ name, container_name: service.container_name }).toEqual({ name, container_name: undefined });
      if (name !== 'api') expect({ name, ports: service.ports }).toEqual({ name, ports: undefined });
    }
  });

  it('keeps the dedicated worker behind the `dedicated` profile; WORKER_TASK_TYPES splits the types', () => {
    const { worker, 'worker-ai': dedicated } = compose.services;
    expect(dedicated!.profiles).toEqual(['dedicated']);
    for (const name of ['redis', 'api', 'worker']) expect(compose.services[name]!.profiles).toBeUndefined();
    expect(dedicated!.environment).toMatchObject({ WORKER_TASK_TYPES: 'ai_inference', WORKER_CONCURRENCY: '4' });
    // The generic worker's default is empty, which a worker reads as every type.
    expect(worker!.environment.WORKER_TASK_TYPES).toBe('');
    expect(workerTaskTypes({ WORKER_TASK_TYPES: worker!.environment.WORKER_TASK_TYPES })).toEqual([...TASK_TYPES]);
    // The documented split: generic workers take the rest, so every type has exactly one kind of worker.
    const rest = TASK_TYPES.filter((type) => type !== 'ai_inference').join(',');
    const split = composeConfig({ WORKER_TASK_TYPES: rest, AI_WORKER_CONCURRENCY: '8', COMPOSE_PROFILES: 'dedicated' }).services;
    const generic = workerTaskTypes({ WORKER_TASK_TYPES: split.worker!.environment.WORKER_TASK_TYPES });
    const ai = workerTaskTypes({ WORKER_TASK_TYPES: split['worker-ai']!.environment.WORKER_TASK_TYPES });
    expect([...generic, ...ai].sort()).toEqual([...TASK_TYPES].sort());
    expect(split['worker-ai']!.environment.WORKER_CONCURRENCY).toBe('8');
  });
});

describe('the image, its Dockerfile replayed in a temporary folder', () => {
  beforeAll(() => {
    // The replay uses this checkout's build output, as `npm test` leaves it.
    image = replayDockerfile(REPO_ROOT);
    appDir = join(image.root, image.workdir);
  });
  afterAll(() => {
    image?.remove();
  });

  describe('Dockerfile', () => {
    it('builds in stages, from a slim base, and runs as a non-root user', () => {
      expect(image.stages.map((stage) => stage.name)).toEqual(['manifests', 'build', 'runtime']);
      for (const stage of image.stages) expect(stage.base).toMatch(/^node:20-[a-z]+-slim$/);
      expect(image.user).toBeDefined();
      expect(['root', '0']).not.toContain(image.user!.split(':')[0]);
      expect(image.entrypoint).toBeUndefined();
      expect(image.exposed).toEqual(['8002']);
    });

    it('keeps local state out of the build context (.dockerignore)', () => {
      const ignored = dockerignoreMatcher(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'));
      const local = ['node_modules/x', 'packages/executors/node_modules/x', 'dist/test/a.js', 'apps/api/dist/main.js', 'apps/api/tsconfig.tsbuildinfo',
        'data/files/a', 'data/redis/appendonly.aof', '.git/HEAD', 'test-artifacts/dashboard.png', '.env'];
      for (const path of local) expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: true });
      for (const path of ['package.json', 'apps/api/src/main.ts', 'packages/core/lua/list-tasks-9.lua', 'config.yaml']) {
        expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: false });
      }
    });

    it('installs production dependencies only in the runtime stage', () => {
      const runtime = image.stages.at(-1)!;
      const installs = runtime.instructions.filter((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
      expect(installs).toHaveLength(1);
      expect(words(installs[0]!.args)).toContain('--omit=dev');
      // What npm leaves out under --omit=dev (the lockfile's dev packages) is not in the image.
      const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')).packages as Record<string, { dev?: boolean }>;
      const devOnly = Object.keys(rootManifest.devDependencies).filter((name) => lock[`node_modules/${name}`]?.dev);
      expect(devOnly).toEqual(expect.arrayContaining(['jest', 'playwright-core']));
      for (const name of devOnly) expect({ name, present: existsSync(join(appDir, 'node_modules', name)) }).toEqual({ name, present: false });
    });

    it("holds every workspace: its manifest, its whole build output and its other run-time files, not its sources", () => {
      const tracked = execFileSync('git', ['ls-files', ...rootManifest.workspaces], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
      for (const workspace of rootManifest.workspaces) {
        expect({ workspace, manifest: existsSync(join(appDir, workspace, 'package.json')) }).toEqual({ workspace, manifest: true });
        expect({ workspace, src: existsSync(join(appDir, workspace, 'src')) }).toEqual({ workspace, src: false });
        const tsconfig = join(REPO_ROOT, workspace, 'tsconfig.json');
        if (!existsSync(tsconfig)) continue;
        const outDir = (JSON.parse(readFileSync(tsconfig, 'utf8')) as { compilerOptions?: { outDir?: string } }).compilerOptions?.outDir ?? '.';
        const js = (dir: string): string[] =>
          existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).filter((file) => file.endsWith('.js')).sort() : [];
        const built = js(join(REPO_ROOT, workspace, outDir));
        expect(built.length).toBeGreaterThan(0);
        expect({ workspace, built: js(join(appDir, workspace, outDir)) }).toEqual({ workspace, built });
      }
      // Files a workspace ships beside its code (packages/core/lua): everything tracked but what the
      // build stage leaves behind on purpose (sources, build settings, typings, maps).
      const runtimeFiles = tracked.filter((file) => !/(^|\/)(src\/|tsconfig[^/]*\.json$)|\.d\.ts$|\.map$|\.tsbuildinfo$/.test(file));
      expect(runtimeFiles).toEqual(expect.arrayContaining(['packages/core/lua/list-tasks-9.lua']));
      for (const file of runtimeFiles) expect({ file, present: existsSync(join(appDir, file)) }).toEqual({ file, present: true });
      expect(existsSync(join(appDir, 'config.yaml'))).toBe(true);
    });

    it('names, in CMD and in every command compose runs on the image, a node entry file the image holds', () => {
      const commands: Array<[string, string[]]> = [['CMD', image.cmd!]];
      for (const [name, service] of Object.entries(compose.services)) {
        if (service.build) commands.push([name, service.command]);
      }
      expect(commands.map(([name]) => name).sort()).toEqual(['CMD', 'api', 'worker', 'worker-ai']);
      for (const [name, command] of commands) {
        expect({ name, program: command[0] }).toEqual({ name, program: 'node' });
        expect({ name, entry: command[1], present: existsSync(join(appDir, command[1]!)) }).toEqual({ name, entry: command[1], present: true });
      }
      expect(image.cmd).toEqual(compose.services.api!.command);
    });
  });

  describe("the image's commands, started on the test Redis", () => {
    const prefix = uniquePrefix('containers');
    const children: ChildProcess[] = [];
    let configPath: string;
    let apiPort: number;
    let api: Started;
    let redis: Redis;

    interface Started {
      child: ChildProcess;
      exited: Promise<number | null>;
      output: () => string;
    }

    /** Starts `command` as the container would: in the image's WORKDIR, with its ENV and the service's environment. */
    function start(command: string[], environment: Record<string, string>): Started {
      const [program, ...args] = command;
      const child = spawn(program!, args, {
        cwd: appDir,
        env: {
          PATH: process.env.PATH,
          ...image.env,
          ...environment,
          REDIS_URL: redisUrl(),
          TASKENGINE_CONFIG: configPath,
          HOST: '127.0.0.1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      return { child, exited, output: () => output };
    }

    /** Waits for `check`, failing at once if the process exits first; a failure shows the process's output. */
    async function waitForProcess<T>(started: Started, check: () => Promise<T | undefined>, what: string): Promise<T> {
      try {
        return await Promise.race([
          waitFor(check, { timeoutMs: 30_000, what }),
          started.exited.then((code): never => {
            throw new Error(`the process exited (${code}) before ${what}`);
          }),
        ]);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- its output ---\n${started.output()}`);
      }
    }

    async function stop(started: Started): Promise<number | null> {
      started.child.kill('SIGTERM');
      return started.exited;
    }

    const apiUrl = (): string => `http://127.0.0.1:${apiPort}`;
    const workers = async (): Promise<any[]> => (await request(apiUrl(), 'GET', '/workers')).body.workers;

    beforeAll(async () => {
      // The image's own config.yaml, on this test's key prefix and without StateMachine; beside it, so its
      // relative paths (./data/…) point into the image's data folder as they would in the container.
      const config = parseYaml(readFileSync(join(appDir, 'config.yaml'), 'utf8')) as Record<string, any>;
      config.redis.prefix = prefix;
      config.logging.level = 'warn';
      config.workers.heartbeat_interval = 1;
      config.dependencies.state_machine.enabled = false;
      configPath = join(appDir, 'config.test.yaml');
      writeFileSync(configPath, stringify(config));
      redis = new Redis(redisUrl());
      apiPort = await freePort();
      api = start(compose.services.api!.command, { ...compose.services.api!.environment, PORT: String(apiPort) });
      await waitForProcess(api, async () => (await request(apiUrl(), 'GET', '/health')).body.status === 'healthy', 'the api answered /health');
    });

    afterAll(async () => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await deletePrefix(redis, prefix);
      await redis.quit();
    });

    it("passes the api's compose health check while it is up, and fails it on a dead port", async () => {
      const [kind, ...check] = compose.services.api!.healthcheck.test as string[];
      expect(kind).toBe('CMD');
      const run = (port: number): number | null =>
        spawnSync(check[0]!, check.slice(1), { env: { PATH: process.env.PATH, PORT: String(port) }, timeout: 20_000 }).status;
      expect(run(apiPort)).toBe(0);
      expect(run(await freePort())).toBe(1);
    });

    it('starts the worker command: it registers for every type, runs a task, and exits 0 on SIGTERM', async () => {
      const worker = start(compose.services.worker!.command, compose.services.worker!.environment);
      const record = await waitForProcess(worker, async () => (await workers()).find((w) => w.pid === worker.child.pid), 'it appeared in GET /workers');
      expect([...record.task_types].sort()).toEqual([...TASK_TYPES].sort());
      const created = await request(apiUrl(), 'POST', '/tasks', { type: 'custom', payload: { hello: 'container' } });
      expect(created.status).toBe(201);
      const done = await waitFor(async () => {
        const task = (await request(apiUrl(), 'GET', `/tasks/${created.body.task_id}`)).body;
        return task.status === 'completed' ? task : undefined;
      }, { what: 'the task to complete' });
      expect(done.result).toEqual({ custom_result: 'success', payload_received: { hello: 'container' } });
      expect(await stop(worker)).toBe(0);
    });

    it('starts the dedicated worker command for its types only, with its own concurrency', async () => {
      const service = compose.services['worker-ai']!;
      const worker = start(service.command, service.environment);
      const record = await waitForProcess(worker, async () => (await workers()).find((w) => w.pid === worker.child.pid), 'it appeared in GET /workers');
      expect(record.task_types).toEqual(['ai_inference']);
      expect(record.concurrency_by_type).toEqual({ ai_inference: 4 });
      expect(await stop(worker)).toBe(0);
    });

    it('stops the api command (also the image CMD) with exit code 0 on SIGTERM', async () => {
      expect(image.cmd).toEqual(compose.services.api!.command);
      expect(await stop(api)).toBe(0);
    });
  });
});
