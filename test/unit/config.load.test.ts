import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, workerConcurrency, workerTaskTypes } from '@taskengine/core';
import { REPO_ROOT } from '../support/harness.js';

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'te-config-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, text);
  return path;
}

describe('loadConfig', () => {
  it('loads the repository config.yaml with the contract defaults', () => {
    const config = loadConfig({ path: join(REPO_ROOT, 'config.yaml'), env: {} });
    expect(config.server.port).toBe(8002);
    expect(config.tasks.per_type.ai_inference?.default_timeout).toBe(120);
    expect(config.workers.concurrency.ai_inference).toBe(4);
    expect(config.executors.file_operation.root).toBe(join(REPO_ROOT, 'data/files'));
    expect(config.dashboard).toEqual({ enabled: true, path: '/admin/queues', read_only: true });
    expect(loadConfig({ path: yamlFile(''), env: {} }).dashboard.read_only).toBe(true);
  });

  it('names every bad key of a bad file', () => {
    const path = yamlFile('server: { port: "eighty", colour: blue }\ntasks: { max_retries: 99 }\nbogus: 1\n');
    let error: unknown;
    try {
      loadConfig({ path, env: {} });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('server.port');
    expect(message).toContain('server.colour: unknown key');
    expect(message).toContain('tasks.max_retries');
    expect(message).toContain('bogus: unknown key');
  });

  it('applies environment overrides over the file', () => {
    const path = yamlFile('server: { port: 9000 }\n');
    const config = loadConfig({ path, env: { PORT: '9100', REDIS_URL: 'redis://127.0.0.1:6400', LOG_LEVEL: 'DEBUG' } });
    expect(config.server.port).toBe(9100);
    expect(config.redis.url).toBe('redis://127.0.0.1:6400');
    expect(config.logging.level).toBe('debug');
  });

  it('reads Sentinel mode from the file or the environment and names what it lacks', () => {
    const fromFile = loadConfig({ path: yamlFile('redis: { mode: sentinel, sentinels: ["10.0.0.5:26379", { host: h, port: 26380 }], name: mymaster }\n'), env: {} });
    expect(fromFile.redis.sentinels).toEqual([{ host: '10.0.0.5', port: 26379 }, { host: 'h', port: 26380 }]);
    const fromEnv = loadConfig({ path: yamlFile(''), env: { REDIS_MODE: 'sentinel', REDIS_SENTINELS: 'a:1, b:2', REDIS_SENTINEL_NAME: 'm' } });
    expect(fromEnv.redis).toMatchObject({ mode: 'sentinel', name: 'm', sentinels: [{ host: 'a', port: 1 }, { host: 'b', port: 2 }] });
    expect(loadConfig({ path: yamlFile(''), env: {} }).redis.mode).toBe('standalone');
    const problems = (yaml: string): string => {
      try {
        loadConfig({ path: yamlFile(yaml), env: {} });
        return '';
      } catch (err) {
        return (err as ConfigError).message;
      }
    };
    expect(problems('redis: { mode: sentinel, sentinels: ["nope"], name: m }\n')).toContain('redis.sentinels.0: expected "host:port"');
    const missing = problems('redis: { mode: sentinel }\n');
    expect(missing).toContain('redis.sentinels: sentinel mode needs at least one sentinel');
    expect(missing).toContain('redis.name: sentinel mode needs the master name');
  });

  it('reads Cluster mode and its seed nodes from the file or the environment', () => {
    const fromFile = loadConfig({ path: yamlFile('redis: { mode: cluster, nodes: ["10.0.0.5:7000", "redis://h:7001", "[::1]:7002"] }\n'), env: {} });
    expect(fromFile.redis).toMatchObject({ mode: 'cluster', nodes: ['10.0.0.5:7000', 'redis://h:7001', '[::1]:7002'] });
    const fromEnv = loadConfig({ path: yamlFile(''), env: { REDIS_MODE: 'CLUSTER', REDIS_NODES: 'a:7000, b:7001' } });
    expect(fromEnv.redis).toMatchObject({ mode: 'cluster', nodes: ['a:7000', 'b:7001'] });
    expect(() => loadConfig({ path: yamlFile('redis: { mode: cluster, nodes: ["a:7000", "no-port"] }\n'), env: {} })).toThrow(
      /redis\.nodes\.1: expected "host:port" or a redis:\/\/ URL/,
    );
  });

  it('reads the replica acknowledgement (WAIT) from the file or the environment, and refuses it in cluster mode', () => {
    const problems = (yaml: string, env: NodeJS.ProcessEnv = {}): string => {
      try {
        loadConfig({ path: yamlFile(yaml), env });
        return '';
      } catch (err) {
        return (err as ConfigError).message;
      }
    };
    expect(loadConfig({ path: yamlFile(''), env: {} }).redis).toMatchObject({ wait_replicas: 0, wait_timeout_ms: 1000 });
    expect(loadConfig({ path: yamlFile('redis: { wait_replicas: 2, wait_timeout_ms: 250 }\n'), env: {} }).redis).toMatchObject({
      wait_replicas: 2,
      wait_timeout_ms: 250,
    });
    const fromEnv = loadConfig({ path: yamlFile('redis: { wait_replicas: 2 }\n'), env: { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '500' } });
    expect(fromEnv.redis).toMatchObject({ wait_replicas: 1, wait_timeout_ms: 500 });
    // Sentinel mode takes it: the connection is to the one master.
    expect(loadConfig({ path: yamlFile(''), env: { REDIS_MODE: 'sentinel', REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', REDIS_WAIT_REPLICAS: '1' } }).redis.wait_replicas).toBe(1);

    expect(problems('', { REDIS_WAIT_REPLICAS: 'one' })).toContain('REDIS_WAIT_REPLICAS: expected a whole number, got "one"');
    expect(problems('redis: { wait_replicas: -1 }\n')).toContain('redis.wait_replicas');
    // WAIT 0 would block for ever: a timeout is required.
    expect(problems('', { REDIS_WAIT_TIMEOUT_MS: '0' })).toContain('redis.wait_timeout_ms');
    const cluster = problems('redis: { mode: cluster, nodes: ["10.0.0.1:6379"], wait_replicas: 1 }\n');
    expect(cluster).toContain('redis.wait_replicas: not supported in cluster mode');
    expect(problems('redis: { mode: cluster, nodes: ["10.0.0.1:6379"] }\n', { REDIS_WAIT_REPLICAS: '1' })).toContain('redis.wait_replicas: not supported in cluster mode');
    expect(problems('redis: { mode: cluster, nodes: ["10.0.0.1:6379"], wait_replicas: 0 }\n')).toBe('');
  });

  it('adds TASKENGINE_API_KEYS to the configured keys and checks key entries', () => {
    const config = loadConfig({ path: join(REPO_ROOT, 'config.yaml'), env: { TASKENGINE_API_KEYS: 'k1, k2' }, overrides: { auth: { api_keys: ['k0'] } } });
    expect(config.auth.api_keys).toEqual(['k0', 'k1', 'k2']);
    expect(() => loadConfig({ path: join(REPO_ROOT, 'config.yaml'), env: {}, overrides: { auth: { api_keys: [{ name: 'both', key: 'a', key_sha256: 'a'.repeat(64) }, { key: 'b', task_types: [] }] } } }))
      .toThrow(/auth\.api_keys\.0: give exactly one of key and key_sha256[\s\S]*auth\.api_keys\.1\.task_types/);
  });

  it('rejects bad worker environment and a missing explicit file', () => {
    expect(() => loadConfig({ path: yamlFile(''), env: { WORKER_TASK_TYPES: 'custom,nope' } })).toThrow(/WORKER_TASK_TYPES: unknown task type "nope"/);
    expect(() => loadConfig({ path: '/nonexistent/config.yaml', env: {} })).toThrow(/file not found/);
    expect(() => loadConfig({ path: yamlFile('- a\n- b\n'), env: {} })).toThrow(/expected a mapping/);
  });

  it('resolves worker types and concurrency', () => {
    const config = loadConfig({ path: join(REPO_ROOT, 'config.yaml'), env: {} });
    expect(workerTaskTypes({ WORKER_TASK_TYPES: 'custom, ai_inference' })).toEqual(['custom', 'ai_inference']);
    expect(workerTaskTypes({})).toHaveLength(6);
    expect(workerConcurrency(config, 'ai_inference', {})).toBe(4);
    expect(workerConcurrency(config, 'custom', {})).toBe(10);
    expect(workerConcurrency(config, 'custom', { WORKER_CONCURRENCY: '3' })).toBe(3);
  });
});
