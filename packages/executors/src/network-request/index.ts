// The `network_request` task type: one HTTP request through got, dialled only through the guarded
// agents (guards/address-filter.ts), its body capped at max_response_bytes, its status judged against
// `expect_status` (default 2xx-3xx).
import { ConfigError, type Config, type ExecutionContext, type TaskTypeDefinition } from '@taskengine/core';
import type { StreamOptions } from 'got';
import type { LookupFunction } from 'node:net';
import { guardedAgents } from '../guards/address-filter.js';
import { hostAllowlist, type HostAllowlist } from '../guards/host-allowlist.js';
import { requestCapped, type CappedResponse } from '../http/capped-request.js';
import { origin, statusFailure, transportFailure } from '../http/failures.js';
import { NetworkRequestPayload } from './payload.js';
import { decodeBody, type DecodedBody } from './response-body.js';

export { NetworkRequestPayload } from './payload.js';

export interface NetworkRequestResult extends DecodedBody {
  status_code: number;
  headers: CappedResponse['headers'];
  truncated: boolean;
  elapsed_ms: number;
  /** Final URL, after redirects. */
  url: string;
  redirect_count: number;
}

export interface NetworkRequestOptions {
  /** Resolver instead of dns.lookup, for tests (e.g. a made-up name resolving to 127.0.0.1). */
  lookup?: LookupFunction;
}

type Settings = Config['executors']['network_request'];

const accepted = (status: number, expect: number[] | undefined): boolean =>
  expect ? expect.includes(status) : status >= 200 && status < 400;

function targetUrl(payload: NetworkRequestPayload): URL {
  const url = new URL(payload.url);
  for (const [name, value] of Object.entries(payload.params ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(item));
  }
  return url;
}

function requestOptions(payload: NetworkRequestPayload, settings: Settings, ctx: ExecutionContext): StreamOptions {
  const options: StreamOptions = {
    method: payload.method ?? 'GET',
    headers: payload.headers ?? {},
    followRedirect: payload.follow_redirects ?? true,
    maxRedirects: settings.max_redirects,
    signal: ctx.signal,
    hooks: { beforeRedirect: [(next) => ctx.log.debug('following redirect', { to: origin(next.url as URL) })] },
  };
  if (payload.data !== undefined) options.json = payload.data;
  if (payload.body !== undefined) options.body = payload.body;
  // Bounds the whole exchange, body included; the task's own timeout still aborts through `signal`.
  if (payload.timeout_seconds !== undefined) options.timeout = { request: Math.ceil(payload.timeout_seconds * 1000) };
  return options;
}

export function networkRequestTaskType(settings: Settings, extra: NetworkRequestOptions = {}): TaskTypeDefinition<NetworkRequestPayload> {
  // Parsed once at boot: a bad allowed_hosts entry stops the process with a message naming it.
  let allowlist: HostAllowlist;
  try {
    allowlist = hostAllowlist(settings.allowed_hosts);
  } catch (err) {
    throw new ConfigError('executors.network_request.allowed_hosts', [(err as Error).message]);
  }
  return {
    type: 'network_request',
    payloadSchema: NetworkRequestPayload,
    async execute(payload, ctx): Promise<NetworkRequestResult> {
      const url = targetUrl(payload);
      const target = origin(url);
      const agents = guardedAgents({ allowlist, lookup: extra.lookup });
      const started = performance.now();
      let response: CappedResponse;
      try {
        response = await requestCapped(url, { ...requestOptions(payload, settings, ctx), agent: { http: agents.http, https: agents.https } }, settings.max_response_bytes, ctx.progress);
      } catch (err) {
        ctx.signal.throwIfAborted();
        throw transportFailure(err, target);
      } finally {
        agents.destroy();
      }
      const result: NetworkRequestResult = {
        status_code: response.statusCode,
        headers: response.headers,
        ...decodeBody(response.body, response.headers['content-type'], response.truncated),
        truncated: response.truncated,
        elapsed_ms: Math.round(performance.now() - started),
        url: response.url,
        redirect_count: response.redirectCount,
      };
      if (response.truncated) ctx.log.info('response body cut at max_response_bytes', { max_response_bytes: settings.max_response_bytes });
      if (!accepted(response.statusCode, payload.expect_status)) {
        throw statusFailure('http_status', `${payload.method ?? 'GET'} ${target} answered HTTP ${response.statusCode}`, response, result);
      }
      return result;
    },
  };
}
