// The Kubernetes example (deploy/kubernetes), without a cluster or kubectl: every file parsed with the
// `yaml` package and checked for kinds and API versions, for references that resolve (Service → pods,
// probes → ports, HPA → Deployment, envFrom → ConfigMap and Secret), for agreement with the project
// (commands and image as docker-compose.yml runs them, the image's WORKDIR, environment variables the
// engine reads, a config file it accepts, a termination grace above the workers' shutdown grace), and
// then run: the api and worker commands started from this checkout's build with the manifests' own
// environment and config file on the test Redis, their probe paths answered without a key, /metrics
// exporting the HPAs' metric with the labels their selectors use, and the workers registering for the
// types their HPA counts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig, TASK_STATUSES, TASK_TYPES, workerTaskTypes } from '@taskengine/core';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { parseDockerfile } from '../support/dockerfile.js';
import {
  API_MAIN,
  deletePrefix,
  Redis,
  redisUrl,
  REPO_ROOT,
  request,
  spawnEngineProcess,
  uniquePrefix,
  waitFor,
  WORKER_MAIN,
  type EngineProcess,
} from '../support/harness.js';
import { parsePrometheusText } from '../support/prometheus.js';
import { freePort } from '../support/redis-server.js';

type Manifest = Record<string, any>;

const DIR = join(REPO_ROOT, 'deploy/kubernetes');
/** Not applied by the kustomization: the rule to merge into a prometheus-adapter release's own config. */
const ADAPTER_RULE = 'prometheus-adapter-rule.yaml';

const API_VERSIONS: Record<string, string> = {
  Kustomization: 'kustomize.config.k8s.io/v1beta1',
  Namespace: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
};

const files = readdirSync(DIR).filter((file) => file.endsWith('.yaml')).sort();
const manifests: Array<Manifest & { file: string }> = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((document, i) => {
    if (document.errors.length) throw new Error(`${file}, document ${i + 1}: ${document.errors.map((e) => e.message).join('; ')}`);
    return { ...(document.toJS() as Manifest), file };
  }),
);
const applied = manifests.filter((m) => m.file !== ADAPTER_RULE && m.kind !== 'Kustomization');
const kustomization = manifests.find((m) => m.kind === 'Kustomization')!;

function one(kind: string, name: string): Manifest {
  const found = applied.filter((m) => m.kind === kind && m.metadata?.name === name);
  if (found.length !== 1) throw new Error(`${found.length} ${kind} named ${name} in deploy/kubernetes`);
  return found[0]!;
}

const deployments = applied.filter((m) => m.kind === 'Deployment');
const engineDeployments = deployments.filter((d) => d.spec.template.spec.containers.some((c: Manifest) => c.image === 'taskengine'));
const container = (deployment: Manifest): Manifest => deployment.spec.template.spec.containers[0];
const isWorker = (deployment: Manifest): boolean => container(deployment).command.includes('apps/worker/dist/main.js');
const api = one('Deployment', 'taskengine-api');
const apiContainer = container(api);
const workers = engineDeployments.filter(isWorker);
const hpas = applied.filter((m) => m.kind === 'HorizontalPodAutoscaler');

/** A container's environment as the kubelet builds it: envFrom ConfigMaps and Secrets, then `env`. */
function environment(c: Manifest): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const source = from.configMapRef ? one('ConfigMap', from.configMapRef.name).data : one('Secret', from.secretRef.name).stringData;
    Object.assign(env, source);
  }
  for (const { name, value } of c.env ?? []) env[name] = value;
  return env;
}

/** The variables the engine's processes read (packages/core/src/config/load.ts). */
function engineVariables(): Set<string> {
  const source = readFileSync(join(REPO_ROOT, 'packages/core/src/config/load.ts'), 'utf8');
  const names = [...source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)|integer\('([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1] ?? m[2]!);
  return new Set(names);
}

/** The file a container's TASKENGINE_CONFIG names: the ConfigMap key mounted at that path. */
function configFileOf(deployment: Manifest): string {
  const c = container(deployment);
  const path = environment(c).TASKENGINE_CONFIG!;
  const mount = (c.volumeMounts as Manifest[]).find((m) => posix.dirname(path) === m.mountPath)!;
  expect(mount).toBeDefined();
  const volume = (deployment.spec.template.spec.volumes as Manifest[]).find((v) => v.name === mount.name)!;
  return one('ConfigMap', volume.configMap.name).data[posix.basename(path)];
}

/** The worker Deployment the HPA scales, and the types its selector counts. */
function hpaTarget(hpa: Manifest): { deployment: Manifest; types: string[]; statuses: string[] } {
  const { scaleTargetRef, metrics } = hpa.spec;
  expect(scaleTargetRef.apiVersion).toBe('apps/v1');
  expect(scaleTargetRef.kind).toBe('Deployment');
  const selector = metrics[0].external.metric.selector;
  const values = (key: string): string[] => [
    ...(selector.matchLabels?.[key] !== undefined ? [selector.matchLabels[key]] : []),
    ...(selector.matchExpressions ?? []).filter((e: Manifest) => e.key === key && e.operator === 'In').flatMap((e: Manifest) => e.values),
  ];
  return { deployment: one('Deployment', scaleTargetRef.name), types: values('type'), statuses: values('status') };
}

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Manifest> };

describe('deploy/kubernetes, as files', () => {
  it('parses, and every object has a known kind with its API version and a name', () => {
    expect(files).toEqual(expect.arrayContaining(['kustomization.yaml', 'api.yaml', 'worker.yaml', 'hpa.yaml', ADAPTER_RULE]));
    for (const m of manifests) {
      const where = `${m.file}: ${m.kind} ${m.metadata?.name ?? ''}`;
      expect({ where, apiVersion: m.apiVersion }).toEqual({ where, apiVersion: API_VERSIONS[m.kind] });
      if (m.kind !== 'Kustomization') expect({ where, named: typeof m.metadata?.name === 'string' }).toEqual({ where, named: true });
    }
    const keys = applied.map((m) => `${m.kind}/${m.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect([...new Set(applied.map((m) => m.kind))].sort()).toEqual(
      ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Namespace', 'Secret', 'Service', 'StatefulSet'],
    );
  });

  it('applies every manifest through the kustomization, but the adapter rule, and names the image compose builds', () => {
    expect([...kustomization.resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml' && f !== ADAPTER_RULE));
    expect(kustomization.namespace).toBe(one('Namespace', kustomization.namespace).metadata.name);
    const [image] = kustomization.images;
    expect(`${image.newName}:${image.newTag}`).toBe(compose.services.api!.image);
    // Every container but Redis runs that image.
    const containers = applied.flatMap((m) => m.spec?.template?.spec?.containers ?? []);
    for (const c of containers) expect({ name: c.name, image: c.image }).toEqual({ name: c.name, image: c.name === 'redis' ? expect.stringMatching(/^redis:7/) : image.name });
  });

  it("runs the image's commands as docker-compose.yml does, from the image's WORKDIR as its non-root user", () => {
    expect(apiContainer.command).toEqual(compose.services.api!.command);
    expect(workers.length).toBeGreaterThanOrEqual(2);
    for (const worker of workers) expect(container(worker).command).toEqual(compose.services.worker!.command);
    for (const deployment of engineDeployments) expect(existsSync(join(REPO_ROOT, container(deployment).command[1]))).toBe(true);
    const runtime = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).at(-1)!;
    const last = (keyword: string): string => runtime.instructions.filter((i) => i.keyword === keyword).at(-1)!.args;
    expect(last('WORKDIR')).toBe('/app');
    expect(last('USER')).toBe('node');
    for (const deployment of engineDeployments) {
      const pod = deployment.spec.template.spec;
      // The official node images' `node` user is uid 1000.
      expect({ name: deployment.metadata.name, user: pod.securityContext }).toMatchObject({ name: deployment.metadata.name, user: { runAsNonRoot: true, runAsUser: 1000 } });
      expect(container(deployment).resources).toMatchObject({ requests: { cpu: expect.anything(), memory: expect.anything() }, limits: { memory: expect.anything() } });
    }
  });

  it('gives the engine only variables it reads, from a ConfigMap and a Secret that exist, and a config file it accepts', () => {
    const known = engineVariables();
    expect([...known]).toEqual(expect.arrayContaining(['REDIS_URL', 'TASKENGINE_CONFIG', 'WORKER_TASK_TYPES', 'PORT']));
    for (const deployment of engineDeployments) {
      const env = environment(container(deployment));
      for (const name of Object.keys(env)) expect({ deployment: deployment.metadata.name, name, read: known.has(name) }).toEqual({ deployment: deployment.metadata.name, name, read: true });
      expect(Object.keys(env)).toEqual(expect.arrayContaining(['TASKENGINE_CONFIG', 'REDIS_URL']));
      const dir = mkdtempSync(join(tmpdir(), 'taskengine-k8s-config-'));
      try {
        writeFileSync(join(dir, 'config.yaml'), configFileOf(deployment));
        const config = loadConfig({ path: join(dir, 'config.yaml'), env });
        // The data folders the config names are the container's volume mounts.
        const mounts = (container(deployment).volumeMounts as Manifest[]).map((m) => m.mountPath);
        if (deployment !== api && workerTaskTypes(env).every((type) => type === 'ai_inference')) continue;
        expect(mounts).toEqual(expect.arrayContaining([config.executors.file_operation.root, config.executors.system_command.workdir]));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('serves the API on the port the config names, with probes and a Service on that port', () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskengine-k8s-config-'));
    writeFileSync(join(dir, 'config.yaml'), configFileOf(api));
    const config = loadConfig({ path: join(dir, 'config.yaml'), env: environment(apiContainer) });
    rmSync(dir, { recursive: true, force: true });
    const [port] = apiContainer.ports;
    expect(port).toEqual({ name: 'http', containerPort: config.server.port });
    expect(config.server.port).toBe(8002);
    expect(apiContainer.readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(apiContainer.livenessProbe.httpGet.port).toBe('http');
    const service = one('Service', 'taskengine-api');
    expect(service.spec.selector).toEqual(api.spec.template.metadata.labels);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 8002, targetPort: 'http' }]);
    expect(api.spec.selector.matchLabels).toEqual(api.spec.template.metadata.labels);
    expect(api.spec.template.metadata.annotations).toMatchObject({ 'prometheus.io/port': String(config.server.port), 'prometheus.io/path': '/metrics' });
    // The Secret's REDIS_URL names the Redis Service of redis.yaml.
    const redis = one('Service', 'taskengine-redis');
    expect(new URL(environment(apiContainer).REDIS_URL!).host).toBe(`${redis.metadata.name}:${redis.spec.ports[0].port}`);
  });

  it("gives workers a termination grace above the config's shutdown grace, and selectors that match their pods", () => {
    for (const worker of [...workers, api]) expect(worker.spec.selector.matchLabels).toEqual(worker.spec.template.metadata.labels);
    for (const worker of workers) {
      const dir = mkdtempSync(join(tmpdir(), 'taskengine-k8s-config-'));
      writeFileSync(join(dir, 'config.yaml'), configFileOf(worker));
      const config = loadConfig({ path: join(dir, 'config.yaml'), env: environment(container(worker)) });
      rmSync(dir, { recursive: true, force: true });
      const grace = worker.spec.template.spec.terminationGracePeriodSeconds;
      // Room beyond the grace for the clean-up after it (handing tasks back, closing Redis).
      expect({ name: worker.metadata.name, room: grace - config.workers.shutdown_grace >= 10 }).toEqual({ name: worker.metadata.name, room: true });
    }
    // The worker Deployments split the types between them: each type has exactly one kind of worker.
    const served = workers.flatMap((w) => workerTaskTypes(environment(container(w))));
    expect([...served].sort()).toEqual([...TASK_TYPES].sort());
  });

  it('scales each worker Deployment on the queued depth of the types it serves, as prometheus-adapter serves it', () => {
    expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(workers.map((w) => w.metadata.name).sort());
    const rule = parse(manifests.find((m) => m.file === ADAPTER_RULE && m.kind === 'ConfigMap')!.data['config.yaml']).externalRules[0];
    for (const hpa of hpas) {
      const [metric] = hpa.spec.metrics;
      expect(metric.type).toBe('External');
      expect(metric.external.metric.name).toBe('taskengine_queue_depth');
      expect(metric.external.target.type).toBe('AverageValue');
      expect(Number(metric.external.target.averageValue)).toBeGreaterThan(0);
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
      const { deployment, types, statuses } = hpaTarget(hpa);
      expect(statuses).toEqual(['queued']);
      for (const status of statuses) expect(TASK_STATUSES).toContain(status);
      expect([...types].sort()).toEqual([...workerTaskTypes(environment(container(deployment)))].sort());
      // The adapter exposes the series under the name the HPA asks for.
      expect(rule.seriesQuery).toMatch(new RegExp(`^'?${metric.external.metric.name}\\{`));
      expect(rule.name.as).toBe(metric.external.metric.name);
    }
    // Every API replica reports the same depth: the adapter takes the max per type, never the sum.
    expect(rule.metricsQuery).toMatch(/^max by \(type, status\) \(<<\.Series>>\{<<\.LabelMatchers>>\}\)$/);
    expect(rule.resources.overrides.namespace.resource).toBe('namespace');
  });
});

describe('deploy/kubernetes, run: the api and worker commands with the manifests\' environment', () => {
  const prefix = uniquePrefix('k8s');
  const key = 'k8s-test-key';
  const auth = { authorization: `Bearer ${key}` };
  const started: EngineProcess[] = [];
  let dir: string;
  let apiUrl: string;
  let redis: Redis;

  /**
   * Starts a Deployment's command with its environment, on the test Redis and prefix: its config file with
   * the data folders moved into a temporary folder, StateMachine off, OneAPI on a dead loopback port (no
   * network), a free port, and an API key (so the probes are shown to need none).
   */
  async function startDeployment(deployment: Manifest, port?: number): Promise<EngineProcess> {
    const config = parse(configFileOf(deployment)) as Manifest;
    config.redis.prefix = prefix;
    config.logging.level = 'warn';
    config.workers.heartbeat_interval = 1;
    config.executors.file_operation.root = join(dir, 'files');
    config.executors.system_command.workdir = join(dir, 'work');
    config.dependencies = { state_machine: { enabled: false } };
    const configPath = join(dir, `${deployment.metadata.name}.yaml`);
    writeFileSync(configPath, stringify(config));
    const c = container(deployment);
    const env = {
      ...environment(c),
      TASKENGINE_CONFIG: configPath,
      REDIS_URL: redisUrl(),
      ONEAPI_URL: `http://127.0.0.1:${await freePort()}`,
      STATE_MACHINE_URL: `http://127.0.0.1:${await freePort()}`,
      TASKENGINE_API_KEYS: key,
      HOST: '127.0.0.1',
      ...(port ? { PORT: String(port) } : {}),
    };
    const child = spawnEngineProcess(c.command[1] === 'apps/api/dist/main.js' ? API_MAIN : WORKER_MAIN, configPath, env);
    started.push(child);
    return child;
  }

  const registered = (child: EngineProcess): Promise<Manifest> =>
    waitFor(async () => ((await request(apiUrl, 'GET', '/workers', undefined, auth)).body.workers as Manifest[]).find((w) => w.pid === child.pid), {
      timeoutMs: 30_000,
      what: `worker ${child.pid} in GET /workers`,
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'taskengine-k8s-'));
    redis = new Redis(redisUrl());
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    const child = await startDeployment(api, port);
    await waitFor(async () => (await request(apiUrl, 'GET', apiContainer.readinessProbe.httpGet.path)).status === 200, {
      timeoutMs: 30_000,
      what: `the api to answer (output: ${child.output()})`,
    });
  });

  afterAll(async () => {
    for (const child of started) if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    await deletePrefix(redis, prefix);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers both probe paths with 200 and no key, while other routes want one', async () => {
    for (const probe of [apiContainer.readinessProbe, apiContainer.livenessProbe]) {
      const answer = await request(apiUrl, 'GET', probe.httpGet.path);
      expect({ path: probe.httpGet.path, status: answer.status }).toEqual({ path: probe.httpGet.path, status: 200 });
    }
    expect((await request(apiUrl, 'GET', '/health')).body).toMatchObject({ status: 'healthy', redis: 'up' });
    expect((await request(apiUrl, 'GET', '/metrics')).status).toBe(401);
  });

  it("exports the HPAs' metric on /metrics, with a series for every type and status their selectors name, that counts queued tasks", async () => {
    // No worker serves `custom` yet: the task stays queued.
    const created = await request(apiUrl, 'POST', '/tasks', { type: 'custom', payload: { k8s: true } }, auth);
    expect(created.status).toBe(201);
    const scrape = await request(apiUrl, 'GET', '/metrics', undefined, auth);
    expect(scrape.status).toBe(200);
    const samples = (await parsePrometheusText(scrape.body as string)).flatMap((family) => family.samples);
    for (const hpa of hpas) {
      const name = hpa.spec.metrics[0].external.metric.name;
      const { types, statuses } = hpaTarget(hpa);
      for (const type of types) {
        for (const status of statuses) {
          const found = samples.filter((s) => s.name === name && s.labels.type === type && s.labels.status === status);
          expect({ name, type, status, series: found.length }).toEqual({ name, type, status, series: 1 });
        }
      }
    }
    const custom = samples.find((s) => s.name === 'taskengine_queue_depth' && s.labels.type === 'custom' && s.labels.status === 'queued');
    expect(custom!.value).toBeGreaterThanOrEqual(1);
  });

  it('starts each worker Deployment: it registers for the types its HPA counts, with its concurrency, runs tasks, and stops within its grace', async () => {
    for (const deployment of workers) {
      const env = environment(container(deployment));
      const child = await startDeployment(deployment);
      const record = await registered(child);
      const types = workerTaskTypes(env);
      expect([...record.task_types].sort()).toEqual([...types].sort());
      const hpa = hpas.find((h) => h.spec.scaleTargetRef.name === deployment.metadata.name)!;
      expect([...record.task_types].sort()).toEqual([...hpaTarget(hpa).types].sort());
      if (env.WORKER_CONCURRENCY) {
        for (const type of types) expect({ type, concurrency: record.concurrency_by_type[type] }).toEqual({ type, concurrency: Number(env.WORKER_CONCURRENCY) });
      }
      if (types.includes('custom')) {
        // The task queued in the test before, and a new one, both complete.
        await waitFor(async () => (await request(apiUrl, 'GET', '/stats', undefined, auth)).body.completed >= 1, { timeoutMs: 30_000, what: 'the queued task to complete' });
      }
      const grace = deployment.spec.template.spec.terminationGracePeriodSeconds;
      const began = Date.now();
      child.child.kill('SIGTERM');
      const exit = await child.exited;
      expect({ name: deployment.metadata.name, exit }).toEqual({ name: deployment.metadata.name, exit: { code: 0, signal: null } });
      expect(Date.now() - began).toBeLessThan(grace * 1000);
    }
  }, 120_000);
});
