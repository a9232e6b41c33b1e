// Worker process entry point (`npm run start:worker`): consumes the queues of WORKER_TASK_TYPES
// (default all) and stops gracefully on SIGTERM/SIGINT.
import {
  createLogger,
  createRedis,
  loadConfigOrExit,
  warnOnEvictionPolicy,
  workerConcurrency,
  workerTaskTypes,
} from '@taskengine/core';
import { createExecutorRegistry } from '@taskengine/executors';
import { WorkerService } from './worker-service.js';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config, 'worker');
  const types = workerTaskTypes();
  const redis = createRedis(config, 'worker');
  warnOnEvictionPolicy(redis, logger);
  const service = new WorkerService({
    config,
    redis,
    executors: createExecutorRegistry(config),
    logger,
    types,
    concurrencyByType: Object.fromEntries(types.map((type) => [type, workerConcurrency(config, type)])),
  });
  let signalled = false;
  const shutdown = (signal: string): void => {
    if (signalled) return;
    signalled = true;
    logger.info('signal received', { signal });
    service
      .stop()
      .then(() => redis.quit())
      .then(() => process.exit(0))
      .catch((err: Error) => {
        logger.error('shutdown failed', { error: err.message });
        process.exit(1);
      });
  };
  // A custom handler that throws outside its promise (a timer, an event) would kill the process with a
  // bare stack trace; log it as a JSON line first. Exiting stays right: the process state is unknown,
  // and its tasks are recovered by another worker (a handler that keeps doing this ends `stalled`).
  const crash = (err: unknown): void => {
    logger.error('uncaught error; worker exits', { error: (err as Error)?.message ?? String(err), stack: (err as Error)?.stack });
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await service.start();
}

main().catch((err: Error) => {
  process.stderr.write(`worker failed to start: ${err.message}\n`);
  process.exit(1);
});
