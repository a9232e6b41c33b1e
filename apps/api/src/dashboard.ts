// bull-board at dashboard.path, showing every task type's queue. Read-only by default
// (dashboard.read_only): the API is the way to change tasks, so the engine's own books stay right.
//
// bull-board's actions work on BullMQ alone and bypass those books: a retried task leaves its
// cancelled/timeout mark behind and is counted as finished twice (a cancelled task could even run
// again), a removed or cleaned job leaves its list-index entry and id claim behind, an added job has
// none of the engine's data or index, an edited payload skips the type's validation. So with
// read_only false only the actions the engine is built to survive go through — pausing and resuming
// queues (cancel, counts and lists know BullMQ's paused state; GET /queues and POST /queues/{type}/pause
// read and set the very same flag) and promoting delayed tasks (a pending task simply becomes queued) —
// and every other action answers 403, whatever the page offers. Retrying goes through POST
// /tasks/{id}/retry, which keeps the engine's books in the same atomic step.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Config, TaskStore } from '@taskengine/core';
import type { Router } from 'express';

/** bull-board API routes (method and pattern, as bull-board declares them) allowed when not read-only. */
export const OPERATOR_ACTIONS: ReadonlySet<string> = new Set([
  'put /api/queues/pause',
  'put /api/queues/resume',
  'put /api/queues/:queueName/pause',
  'put /api/queues/:queueName/resume',
  'put /api/queues/:queueName/promote',
  'put /api/queues/:queueName/:jobId/promote',
]);

export function dashboardRouter(config: Config, store: TaskStore): Router {
  const readOnly = config.dashboard.read_only;
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(config.dashboard.path);
  createBullBoard({
    queues: Object.values(store.queues).map(
      (queue) =>
        new BullMQAdapter(queue, {
          readOnlyMode: readOnly,
          // Retrying is refused below, so the page should not offer it.
          allowRetries: false,
          displayName: queue.name.slice(1, -1),
        }),
    ),
    serverAdapter,
    options: {
      uiConfig: { boardTitle: 'TaskEngine' },
      handlerHooks: {
        // Reads always pass; in read-only mode bull-board itself refuses every action (405).
        before: ({ method, route }) => {
          if (method === 'get' || readOnly || OPERATOR_ACTIONS.has(`${method} ${route}`)) return { allow: true };
          return {
            allow: false,
            status: 403,
            message: 'the dashboard may only pause/resume queues and promote delayed tasks; change tasks through the API',
          };
        },
      },
    },
  });
  return serverAdapter.getRouter() as Router;
}
