// The `custom` task type: a named handler runs the payload. Built-ins are echo (default), sleep, fail;
// config.yaml adds handlers from modules (`executors.custom.handlers`), loaded by prepare() at worker
// start. The API only needs the names, so it validates without importing plugin code.
import { quoteInput, TaskError, type Config, type TaskTypeDefinition } from '@taskengine/core';
import { z } from 'zod';
import { BUILTIN_HANDLERS, type CustomHandler } from './builtin-handlers.js';
import { loadPluginHandlers } from './plugin-loader.js';

/** Free-form beyond the fields the built-in handlers declare. */
export const CustomPayload = z
  .object({
    handler: z.string().min(1).optional(),
    duration_ms: z.number().int().min(0).max(86_400_000).optional(),
    message: z.string().max(10_000).optional(),
    retryable: z.boolean().optional(),
  })
  .catchall(z.unknown());
export type CustomPayload = z.infer<typeof CustomPayload>;

const ERROR_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * What a handler's error means for the task. Plugins need not import the engine: an error with a
 * snake_case `code` (and optionally `retryable: false` or `retryAfterMs`) keeps that code; anything
 * else is a retryable `handler_error`.
 */
function asTaskError(err: unknown): unknown {
  if (err instanceof TaskError || !(err instanceof Error)) return err;
  const { code, retryable, retryAfterMs } = err as Error & { code?: unknown; retryable?: unknown; retryAfterMs?: unknown };
  if (typeof code !== 'string' || !ERROR_CODE.test(code)) return err;
  return new TaskError(code, err.message, {
    retryable: retryable !== false,
    ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}),
  });
}

export function customTaskType(config: Config): TaskTypeDefinition<CustomPayload> {
  const pluginModules = config.executors.custom.handlers;
  // A plugin may take a built-in's name and replace it.
  const names = [...new Set([...Object.keys(BUILTIN_HANDLERS), ...Object.keys(pluginModules)])];
  let handlers: Record<string, CustomHandler> = { ...BUILTIN_HANDLERS };
  const payloadSchema = CustomPayload.superRefine((payload, ctx) => {
    const name = payload.handler ?? 'echo';
    if (!names.includes(name)) {
      ctx.addIssue({ code: 'custom', path: ['handler'], message: `unknown handler ${quoteInput(name)}; known: ${names.join(', ')}` });
    }
    if (name === 'sleep' && !('sleep' in pluginModules) && payload.duration_ms === undefined) {
      ctx.addIssue({ code: 'custom', path: ['duration_ms'], message: 'required by the sleep handler' });
    }
  });
  return {
    type: 'custom',
    payloadSchema,
    async prepare() {
      handlers = { ...BUILTIN_HANDLERS, ...(await loadPluginHandlers(pluginModules)) };
    },
    async execute(payload, ctx) {
      const name = payload.handler ?? 'echo';
      const handler = handlers[name];
      if (!handler) throw new TaskError('unknown_handler', `handler "${name}" is not loaded in this worker`, { retryable: false });
      try {
        return await handler(payload, ctx);
      } catch (err) {
        throw asTaskError(err);
      }
    },
  };
}
