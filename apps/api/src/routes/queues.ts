// Queue routes (CONTRACT section 7, "Queues"): GET /queues, POST /queues/{type}/pause and /resume.
// A key scoped to task types sees and controls only its own types' queues.
import { quoteInput, TaskType, validationError, type QueueControl, type QueueList, type QueuePauseState } from '@taskengine/core';
import { Router, type Request, type Response } from 'express';
import { assertTypeAllowed, scopedTypes } from './tasks.js';

function queueType(req: Request, res: Response): TaskType {
  const parsed = TaskType.safeParse(req.params.type);
  if (!parsed.success) {
    throw validationError([{ path: 'type', message: `unknown task type ${quoteInput(String(req.params.type))}; one of ${TaskType.options.join(', ')}` }]);
  }
  assertTypeAllowed(res, [parsed.data]);
  return parsed.data;
}

export function queueRoutes({ queues }: { queues: QueueControl }): Router {
  const router = Router();

  router.get('/queues', async (_req, res) => {
    const list = await queues.overview(scopedTypes(res) ?? TaskType.options);
    res.json({ queues: list, total: list.length } satisfies QueueList);
  });

  router.post('/queues/:type/pause', async (req, res) => {
    const type = queueType(req, res);
    await queues.pause(type);
    res.json({ success: true, type, paused: true } satisfies QueuePauseState);
  });

  router.post('/queues/:type/resume', async (req, res) => {
    const type = queueType(req, res);
    await queues.resume(type);
    res.json({ success: true, type, paused: false } satisfies QueuePauseState);
  });

  return router;
}
