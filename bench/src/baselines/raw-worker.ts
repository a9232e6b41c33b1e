// Baseline of process and latency: a raw BullMQ Worker with the engine's echo result and retention
// (keep every job), at the given concurrency (env: REDIS_URL, PREFIX, CONCURRENCY).
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAME } from './job.js';

const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const worker = new Worker(QUEUE_NAME, async (job) => ({ custom_result: 'success', payload_received: job.data.payload }), {
  connection,
  prefix: process.env.PREFIX!,
  concurrency: Number(process.env.CONCURRENCY ?? 100),
  removeOnComplete: { count: -1 },
  removeOnFail: { count: -1 },
});
const stop = (): void => void worker.close().then(() => connection.quit()).finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
