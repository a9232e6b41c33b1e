// How the client sends a request: any fetch-shaped function. The global fetch is the default; the CLI
// uses httpFetch, the same few features on node:http, because loading fetch's implementation costs a
// short-lived process about as much CPU as everything else it does.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** What the client reads from an answer: a subset of the fetch Response. */
export interface FetchResponse {
  ok: boolean;
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** The part of fetch the client uses; the global fetch is one. */
export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponse>;

function headerGetter(message: IncomingMessage): FetchResponse['headers'] {
  return {
    get(name) {
      const value = message.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/** fetch on node:http / node:https: the whole body is read before it resolves; an abort rejects with the signal's reason. */
export const httpFetch: FetchLike = (url, { method, headers, body, signal }) =>
  new Promise((resolve, reject) => {
    const fail = (err: unknown): void => reject(signal?.aborted ? signal.reason : err);
    if (signal?.aborted) return fail(signal.reason);
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method, headers, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, statusText: res.statusMessage ?? '', headers: headerGetter(res), text: async () => text });
      });
    });
    req.on('error', fail);
    req.end(body);
  });
