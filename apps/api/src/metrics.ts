// GET /metrics in Prometheus text format (CONTRACT section 6). Task figures come from the counters and
// queues in Redis, read once per scrape, so every API replica serves the same numbers and a scrape
// costs the same whatever the number of tasks. HTTP request durations are this process's own
// (Prometheus scrapes each replica and sums them), with the process's default Node.js metrics.
import {
  DURATION_BUCKETS_SECONDS,
  type DurationHistogram,
  FINAL_STATUSES,
  PRIORITY_NAMES,
  readActivity,
  type RedisClient,
  TASK_STATUSES,
  TASK_TYPES,
  type TaskKeys,
  type TaskStore,
  type TaskType,
  type TypeActivity,
  type TypeCounts,
  type WorkerRecord,
  type WorkerRegistry,
} from '@taskengine/core';
import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Gauge, Histogram, Registry, type Metric } from 'prom-client';

interface Snapshot {
  activity: Record<TaskType, TypeActivity>;
  counts: Record<TaskType, TypeCounts>;
  workers: WorkerRecord[];
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

export interface MetricsDeps {
  redis: RedisClient;
  keys: TaskKeys;
  store: TaskStore;
  registry: WorkerRegistry;
  /** Live event streams open in this process. */
  openEventStreams?: () => number;
}

export class EngineMetrics {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  private snapshot: Promise<Snapshot> | undefined;

  constructor(private readonly deps: MetricsDeps) {
    collectDefaultMetrics({ register: this.registry, prefix: 'taskengine_api_' });
    this.httpDuration = new Histogram({
      name: 'taskengine_http_request_duration_seconds',
      help: 'API request durations, by method, route pattern and status code (this API process)',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    const openStreams = deps.openEventStreams;
    if (openStreams) {
      new Gauge({
        name: 'taskengine_event_streams',
        help: 'Live event streams (GET /tasks/{id}/events, GET /events) open now (this API process)',
        registers: [this.registry],
        collect() {
          this.set(openStreams());
        },
      });
    }
    this.define('taskengine_tasks_created_total', 'counter', 'Tasks created, by type and priority', (s) =>
      TASK_TYPES.flatMap((type) => PRIORITY_NAMES.map((priority, p) => ({ labels: { type, priority }, value: s.activity[type].createdByPriority[p]! }))));
    this.define('taskengine_tasks_finished_total', 'counter', 'Tasks that reached a final status, by type, priority and status', (s) =>
      TASK_TYPES.flatMap((type) => FINAL_STATUSES.flatMap((status) =>
        PRIORITY_NAMES.map((priority, p) => ({ labels: { type, priority, status }, value: s.activity[type].finishedByPriority[status][p]! })))));
    this.define('taskengine_task_retries_total', 'counter', 'Retries, by type: failed attempts retried automatically, and tasks retried through the API', (s) =>
      TASK_TYPES.map((type) => ({ labels: { type }, value: s.activity[type].lifetime.retried })));
    this.define('taskengine_queue_depth', 'gauge', 'Tasks held now, by type and status', (s) =>
      TASK_TYPES.flatMap((type) => TASK_STATUSES.map((status) => ({ labels: { type, status }, value: s.counts[type].statuses[status] }))));
    this.define('taskengine_workers', 'gauge', 'Live worker processes, by status', (s) =>
      (['idle', 'busy', 'stopping'] as const).map((status) => ({ labels: { status }, value: s.workers.filter((w) => w.status === status).length })));
    this.define('taskengine_task_duration_seconds', 'histogram', 'Running time of finished attempts that ended the task, by type', (s) =>
      TASK_TYPES.flatMap((type) => histogramSamples('taskengine_task_duration_seconds', type, s.activity[type].exec)));
    this.define('taskengine_task_wait_seconds', 'histogram', 'Time from due to started of finished tasks, by type', (s) =>
      TASK_TYPES.flatMap((type) => histogramSamples('taskengine_task_wait_seconds', type, s.activity[type].wait)));
  }

  /** A metric whose samples come from the scrape's snapshot of Redis. */
  private define(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: (snapshot: Snapshot) => Sample[]): void {
    const metric = {
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name, help, type, aggregator: 'sum', values: samples(await this.currentSnapshot()) }),
    };
    // prom-client formats any object with get(); these have no in-process state to keep.
    this.registry.registerMetric(metric as unknown as Metric<string>);
  }

  private currentSnapshot(): Promise<Snapshot> {
    this.snapshot ??= (async () => {
      const { redis, keys, store, registry } = this.deps;
      const [activity, counts, workers] = await Promise.all([readActivity(redis, keys), store.countsByType(), registry.list()]);
      return { activity, counts, workers };
    })();
    return this.snapshot;
  }

  /** The exposition text; Redis is read once for all task metrics. */
  async render(): Promise<string> {
    try {
      return await this.registry.metrics();
    } finally {
      this.snapshot = undefined;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Times every request; the route label is the matched pattern (`/tasks/:id`), never a raw path. */
  timeRequests(): RequestHandler {
    return (req, res, next) => {
      const end = this.httpDuration.startTimer();
      res.on('finish', () => {
        // A live event stream lasts as long as its client watches: its length is no request latency.
        if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) return;
        const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
        end({ method: req.method, route, status_code: res.statusCode });
      });
      next();
    };
  }
}

function histogramSamples(name: string, type: TaskType, histogram: DurationHistogram): Sample[] {
  let cumulative = 0;
  const buckets = DURATION_BUCKETS_SECONDS.map((bound, i) => {
    cumulative += histogram.buckets[i]!;
    return { labels: { type, le: bound }, value: cumulative, metricName: `${name}_bucket` };
  });
  // The overflow bucket completes the count (bucket counts and sums are flushed in one MULTI).
  const count = cumulative + histogram.buckets[DURATION_BUCKETS_SECONDS.length]!;
  return [
    ...buckets,
    { labels: { type, le: '+Inf' }, value: count, metricName: `${name}_bucket` },
    { labels: { type }, value: histogram.sumMs / 1000, metricName: `${name}_sum` },
    { labels: { type }, value: count, metricName: `${name}_count` },
  ];
}
