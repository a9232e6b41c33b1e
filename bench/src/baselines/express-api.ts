// Baseline of ingest-single: the simplest Express handler that queues a task (env: REDIS_URL, PREFIX, PORT).
import { Queue } from 'bullmq';
import express from 'express';
import { Redis } from 'ioredis';
import { jobData, jobOptions, QUEUE_NAME } from './job.js';

const queue = new Queue(QUEUE_NAME, { connection: new Redis(process.env.REDIS_URL!), prefix: process.env.PREFIX! });
const app = express();
app.use(express.json());
app.post('/tasks', async (req, res) => {
  const opts = jobOptions();
  await queue.add(req.body.type, jobData(req.body.payload ?? {}), opts);
  res.status(201).json({ success: true, task_id: opts.jobId, status: 'queued', created_at: new Date(opts.timestamp!).toISOString() });
});
app.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
// Exiting through process.exit (not the default signal death) lets --cpu-prof write its profile.
process.on('SIGTERM', () => process.exit(0));
