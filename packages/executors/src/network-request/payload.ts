// The network_request payload (CONTRACT section 4). Everything that can be judged from the request
// alone is refused here, at creation (400): a scheme other than http/https, a malformed URL, both
// `data` and `body`, a body on GET/HEAD, header names that are not HTTP tokens, values with CR/LF.
// Where the URL leads is judged at run time by the address filter, on the address actually dialled.
import { z } from 'zod';

export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;

/**
 * Headers a client may not set. `Host` would let a request reach another virtual host behind an
 * allowed address; the hop-by-hop ones and Content-Length/Expect belong to the connection, which
 * got manages, and a wrong one invites request smuggling. Refused with a 400 rather than silently
 * dropped, so the client learns its request would not have been sent as written.
 */
export const REFUSED_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'expect',
]);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/; // RFC 9110 token
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/; // what Node sends: no CR, LF, NUL or other controls

const HeaderName = z
  .string()
  .max(256)
  .regex(HEADER_NAME, 'not a valid header name')
  .refine((name) => !REFUSED_HEADERS.has(name.toLowerCase()), { message: 'this header is managed by the engine and may not be set' });

const Scalar = z.union([z.string(), z.number(), z.boolean()]);

const HttpUrl = z
  .string()
  .min(1)
  .max(8192)
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a valid absolute URL' });
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: `only http and https URLs are allowed, not ${url.protocol}` });
    } else if (!url.hostname) {
      ctx.addIssue({ code: 'custom', message: 'the URL has no host' });
    }
  });

export const NetworkRequestPayload = z
  .strictObject({
    url: HttpUrl,
    method: z.preprocess((value) => (typeof value === 'string' ? value.toUpperCase() : value), z.enum(METHODS)).optional(),
    headers: z
      .record(HeaderName, z.string().max(16_384).regex(HEADER_VALUE, 'header values may not contain CR, LF or control characters'))
      .refine((headers) => Object.keys(headers).length <= 100, { message: 'at most 100 headers' })
      .optional(),
    params: z.record(z.string(), z.union([Scalar, z.array(Scalar)])).optional(),
    data: z.unknown().optional(),
    body: z.string().optional(),
    timeout_seconds: z.number().positive().max(86_400).optional(),
    follow_redirects: z.boolean().optional(),
    expect_status: z.array(z.number().int().min(100).max(599)).min(1).max(100).optional(),
  })
  .superRefine((payload, ctx) => {
    if (payload.data !== undefined && payload.body !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['body'], message: 'give either data (a JSON body) or body (a string body), not both' });
    }
    const method = payload.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD') && (payload.data !== undefined || payload.body !== undefined)) {
      ctx.addIssue({ code: 'custom', path: [payload.data !== undefined ? 'data' : 'body'], message: `a ${method} request has no body` });
    }
  });
export type NetworkRequestPayload = z.infer<typeof NetworkRequestPayload>;
