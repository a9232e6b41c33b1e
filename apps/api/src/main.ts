// API process entry point (`npm run start:api`): serves the REST API and the dashboard on server.port,
// drains in-flight requests on SIGTERM/SIGINT and closes Redis.
import { createLogger, createRedis, loadConfigOrExit, TaskStore } from '@taskengine/core';
import { createExecutorRegistry } from '@taskengine/executors';
import { createApp } from './app.js';

function main(): void {
  const config = loadConfigOrExit();
  const logger = createLogger(config, 'api');
  const redis = createRedis(config, 'api');
  const store = new TaskStore(redis, config);
  const app = createApp({ config, redis, store, executors: createExecutorRegistry(config), logger });
  const server = app.listen(config.server.port, config.server.host, () => {
    logger.info('api listening', { host: config.server.host, port: config.server.port });
  });
  server.on('error', (err) => {
    logger.error('cannot listen', { error: err.message });
    process.exit(1);
  });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('signal received; draining requests', { signal });
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    server.close(() => {
      store
        .close()
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
