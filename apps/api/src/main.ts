// API process entry point (`npm run start:api`): serves the REST API and the dashboard on server.port,
// keeps node 02 registered with StateMachine, and on SIGTERM/SIGINT ends live event streams, drains
// in-flight requests, unregisters and closes Redis.
import { createLogger, createRedis, loadConfigOrExit, TaskStore, warnOnEvictionPolicy } from '@taskengine/core';
import { createExecutorRegistry } from '@taskengine/executors';
import { APP_VERSION, createApp } from './app.js';
import { answerNodeRefusals } from './node-refusals.js';
import { OneApiProbe } from './galaxy/oneapi-probe.js';
import { StateMachineLink } from './galaxy/state-machine-link.js';

function main(): void {
  const config = loadConfigOrExit();
  const logger = createLogger(config, 'api');
  const redis = createRedis(config, 'api');
  warnOnEvictionPolicy(redis, logger);
  const store = new TaskStore(redis, config);
  const executors = createExecutorRegistry(config);
  const { state_machine: stateMachine, oneapi } = config.dependencies;
  const link = new StateMachineLink({
    url: stateMachine.url,
    enabled: stateMachine.enabled,
    intervalSeconds: config.health_check.interval,
    node: { node_id: config.node.id, name: config.node.name, port: config.server.port, version: APP_VERSION, task_types: Object.keys(executors) },
    logger,
  });
  const oneApi = new OneApiProbe(oneapi.url, oneapi.enabled, config.health_check.interval);
  const dependencies = () => ({ state_machine: link.status(), oneapi: oneApi.status() });
  const stopping = new AbortController();
  const app = createApp({ config, redis, store, executors, logger, dependencies, shutdown: stopping.signal });
  const server = app.listen(config.server.port, config.server.host, () => {
    logger.info('api listening', { host: config.server.host, port: config.server.port });
    link.start();
    oneApi.start();
  });
  answerNodeRefusals(server);
  server.on('error', (err) => {
    logger.error('cannot listen', { error: err.message });
    process.exit(1);
  });
  const shutdown = (signal: string): void => {
    if (stopping.signal.aborted) return;
    // Live event streams never end by themselves: they end now (clients reconnect elsewhere).
    stopping.abort();
    logger.info('signal received; draining requests', { signal });
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    oneApi.stop();
    // Answers already in flight still go out; their connections then close at once instead of idling
    // for keep-alive, so the drain ends when the last answer is sent.
    server.keepAliveTimeout = 1;
    server.close(() => {
      link
        .stop()
        .then(() => store.close())
        .then(() => redis.quit())
        .catch(() => {})
        .finally(() => process.exit(0));
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main();
