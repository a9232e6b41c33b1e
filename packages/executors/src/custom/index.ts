// The `custom` task type: a named handler runs the payload. Built-ins are echo (default), sleep, fail.
import { TaskError, type TaskTypeDefinition } from '@taskengine/core';
import { z } from 'zod';
import { BUILTIN_HANDLERS } from './builtin-handlers.js';

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

export function customTaskType(): TaskTypeDefinition<CustomPayload> {
  const handlers = BUILTIN_HANDLERS;
  const names = Object.keys(handlers);
  const payloadSchema = CustomPayload.superRefine((payload, ctx) => {
    const name = payload.handler ?? 'echo';
    if (!(name in handlers)) {
      ctx.addIssue({ code: 'custom', path: ['handler'], message: `unknown handler "${name}"; known: ${names.join(', ')}` });
    }
    if (name === 'sleep' && payload.duration_ms === undefined) {
      ctx.addIssue({ code: 'custom', path: ['duration_ms'], message: 'required by the sleep handler' });
    }
  });
  return {
    type: 'custom',
    payloadSchema,
    async execute(payload, ctx) {
      const handler = handlers[payload.handler ?? 'echo'];
      if (!handler) throw new TaskError('invalid_payload', `unknown handler "${payload.handler}"`, { retryable: false });
      return handler(payload, ctx);
    },
  };
}
