// Reading OneAPI's answers: a chat completion becomes the task's result; an error answer becomes a
// short message with every trace of the key removed (gateways like to echo the headers they got).
import { TaskError } from '@taskengine/core';

export interface AiInferenceResult {
  model: string;
  output: string;
  finish_reason: string | null;
  /** null where the upstream did not report a count. */
  usage: { prompt_tokens: number | null; completion_tokens: number | null; total_tokens: number | null };
}

const MESSAGE_LIMIT = 300;

/** Removes the key itself and anything shaped like a credential header, then shortens. */
export function redact(text: string, secret: string | undefined): string {
  let out = secret ? text.split(secret).join('[redacted]') : text;
  out = out
    .replace(/(bearer\s+)[^\s"',;}]+/gi, '$1[redacted]')
    .replace(/((?:x-api-key|api[_-]?key|authorization)["']?\s*[:=]\s*["']?)[^\s"',;}]+/gi, '$1[redacted]');
  // Redact before cutting: a cut could otherwise leave a prefix of the key that no longer matches.
  return out.length > MESSAGE_LIMIT ? `${out.slice(0, MESSAGE_LIMIT)}…` : out;
}

/** The human part of an error answer: OpenAI's `{error: {message}}`, a few common variants, or the text. */
export function upstreamMessage(body: Buffer, truncated: boolean): string {
  const text = body.toString('utf8');
  if (!truncated) {
    try {
      const parsed = JSON.parse(text) as Record<string, any>;
      const candidate = parsed?.error?.message ?? parsed?.error ?? parsed?.message ?? parsed?.detail;
      if (typeof candidate === 'string') return candidate;
    } catch {
      // not JSON: use the text
    }
  }
  return text.trim() || '(empty body)';
}

const count = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

function malformed(why: string): TaskError {
  // Not retried: a server that answers 200 with something else is misconfigured, not busy.
  return new TaskError('invalid_upstream_response', `OneAPI answered 200 but not with a chat completion: ${why}`, { retryable: false });
}

/** The result of a 2xx answer; a body that is not an OpenAI-style chat completion fails the task. */
export function parseCompletion(body: Buffer, truncated: boolean, requestedModel: string): AiInferenceResult {
  if (truncated) throw malformed('the answer is longer than dependencies.oneapi.max_response_bytes');
  let answer: any;
  try {
    answer = JSON.parse(body.toString('utf8'));
  } catch {
    throw malformed('the body is not JSON');
  }
  const choice = Array.isArray(answer?.choices) ? answer.choices[0] : undefined;
  if (choice === undefined || typeof choice !== 'object' || choice === null) throw malformed('no choices');
  const content = choice.message?.content;
  if (content !== null && content !== undefined && typeof content !== 'string') throw malformed('choices[0].message.content is not text');
  if (content === undefined && typeof choice.message !== 'object') throw malformed('choices[0] has no message');
  const usage = typeof answer.usage === 'object' && answer.usage !== null ? answer.usage : {};
  return {
    model: typeof answer.model === 'string' && answer.model ? answer.model : requestedModel,
    // A refusal or an empty turn comes back as content null: an empty output, not an error.
    output: content ?? '',
    finish_reason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
    usage: {
      prompt_tokens: count(usage.prompt_tokens),
      completion_tokens: count(usage.completion_tokens),
      total_tokens: count(usage.total_tokens),
    },
  };
}
