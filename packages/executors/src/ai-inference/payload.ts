// The ai_inference payload (CONTRACT section 4): a prompt or a conversation for one chat completion.
// There is deliberately no per-task base URL: the endpoint is the operator's OneAPI (usually a private
// address, trusted and exempt from the SSRF filter), and a client-chosen URL would turn this type into
// an unfiltered network_request that also carries the OneAPI key. An unknown field is a 400.
import { z } from 'zod';

export const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;

const Message = z.strictObject({
  role: z.enum(ROLES),
  content: z.string().max(1_000_000),
});

export const AiInferencePayload = z
  .strictObject({
    model: z.string().min(1).max(256),
    prompt: z.string().min(1).max(1_000_000).optional(),
    messages: z.array(Message).min(1).max(1000).optional(),
    system: z.string().max(1_000_000).optional(),
    max_tokens: z.number().int().positive().max(10_000_000).optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().min(0).max(1).optional(),
    // Sent as the x-provider header: keep it a plain token.
    provider: z.string().regex(/^[A-Za-z0-9._:/@-]{1,100}$/, 'letters, digits and . _ : / @ - only (1-100)').optional(),
  })
  .superRefine((payload, ctx) => {
    const given = Number(payload.prompt !== undefined) + Number(payload.messages !== undefined);
    if (given !== 1) {
      ctx.addIssue({ code: 'custom', path: ['prompt'], message: given ? 'give prompt or messages, not both' : 'give prompt or messages' });
    }
  });
export type AiInferencePayload = z.infer<typeof AiInferencePayload>;

export interface ChatMessage {
  role: string;
  content: string;
}

/** The conversation sent upstream: `system` first, then the messages, or the prompt as one user turn. */
export function conversation(payload: AiInferencePayload): ChatMessage[] {
  const turns: ChatMessage[] = payload.messages ?? [{ role: 'user', content: payload.prompt ?? '' }];
  return payload.system !== undefined ? [{ role: 'system', content: payload.system }, ...turns] : turns;
}
