// bull-board at dashboard.path, showing every task type's queue. Read-only: the API is the way to
// change tasks, so counters and indexes stay consistent.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Config, TaskStore } from '@taskengine/core';
import type { Router } from 'express';

export function dashboardRouter(config: Config, store: TaskStore): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(config.dashboard.path);
  createBullBoard({
    queues: Object.values(store.queues).map((queue) => new BullMQAdapter(queue, { readOnlyMode: true, displayName: queue.name.slice(1, -1) })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'TaskEngine' } },
  });
  return serverAdapter.getRouter() as Router;
}
