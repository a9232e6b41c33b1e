// The `ai_inference` task type: one chat completion from the OneAPI node (node 01) or any
// OpenAI-compatible base URL (`https://host/v1`), configured by the operator in dependencies.oneapi.
// That URL is trusted (usually private, e.g. localhost:8001), so the SSRF filter does not apply; in
// exchange nothing in a payload can change where the request goes (see payload.ts).
// The key (dependencies.oneapi.api_key / ONEAPI_API_KEY) is sent as x-api-key and Bearer, and never
// written to a log, an error or a result.
import { ApiError, TaskError, type Config, type TaskTypeDefinition } from '@taskengine/core';
import { requestCapped, type CappedResponse } from '../http/capped-request.js';
import { origin, statusFailure, transportFailure } from '../http/failures.js';
import { AiInferencePayload, conversation } from './payload.js';
import { parseCompletion, redact, upstreamMessage, type AiInferenceResult } from './upstream.js';

export { AiInferencePayload } from './payload.js';
export type { AiInferenceResult } from './upstream.js';

type OneApiSettings = Config['dependencies']['oneapi'];

/** `{base}/chat/completions`; null when the configured URL is not an http(s) URL. */
export function chatCompletionsUrl(base: string): URL | null {
  try {
    const url = new URL(`${base.replace(/\/+$/, '')}/chat/completions`);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

export function aiInferenceTaskType(settings: OneApiSettings): TaskTypeDefinition<AiInferencePayload> {
  const endpoint = chatCompletionsUrl(settings.url);
  const key = settings.api_key || undefined;
  const target = endpoint ? `OneAPI at ${origin(endpoint)}` : 'OneAPI';
  const disabled = 'task type ai_inference is switched off (dependencies.oneapi.enabled: false)';
  return {
    type: 'ai_inference',
    payloadSchema: AiInferencePayload,
    refuse: () => (settings.enabled ? null : new ApiError(403, 'forbidden', disabled)),
    async execute(payload, ctx): Promise<AiInferenceResult> {
      if (!settings.enabled) throw new TaskError('type_disabled', `${disabled} on this worker`, { retryable: false });
      if (!endpoint) throw new TaskError('invalid_config', 'dependencies.oneapi.url is not an http(s) URL', { retryable: false });
      const headers: Record<string, string> = { accept: 'application/json' };
      const provider = payload.provider ?? settings.provider ?? undefined;
      if (provider) headers['x-provider'] = provider;
      if (key) {
        headers['x-api-key'] = key;
        headers.authorization = `Bearer ${key}`;
      }
      const body = {
        model: payload.model,
        messages: conversation(payload),
        max_tokens: payload.max_tokens,
        temperature: payload.temperature,
        top_p: payload.top_p,
        stream: false,
      };
      ctx.log.debug('calling OneAPI', { endpoint: origin(endpoint), model: payload.model, provider });
      let response: CappedResponse;
      try {
        response = await requestCapped(
          endpoint,
          {
            method: 'POST',
            headers,
            json: body,
            // A redirect would carry the key to wherever it points: treat it as an error instead.
            followRedirect: false,
            timeout: { request: Math.ceil(settings.timeout * 1000) },
            signal: ctx.signal,
          },
          settings.max_response_bytes,
        );
      } catch (err) {
        ctx.signal.throwIfAborted();
        throw transportFailure(err, target);
      }
      if (response.statusCode < 200 || response.statusCode >= 300) {
        const detail = redact(upstreamMessage(response.body, response.truncated), key);
        throw statusFailure('upstream_error', `${target} answered HTTP ${response.statusCode}: ${detail}`, response);
      }
      return parseCompletion(response.body, response.truncated, payload.model);
    },
  };
}
