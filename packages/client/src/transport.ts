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
  /**
   * Resolve as soon as the answer's headers arrive and expose the body as it comes (`body`), for event
   * streams. The global fetch always does; httpFetch only when asked.
   */
  stream?: boolean;
}

/** What the client reads from an answer: a subset of the fetch Response. */
export interface FetchResponse {
  ok: boolean;
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  /** The body as it arrives, when the fetch can stream it. */
  body?: AsyncIterable<Uint8Array> | null;
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

/** The rest of a body as text. */
function readAll(message: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    message.on('data', (chunk: Buffer) => chunks.push(chunk));
    message.on('error', reject);
    message.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * fetch on node:http / node:https: the whole body is read before it resolves (unless `stream`); an
 * abort rejects with the signal's reason.
 */
export const httpFetch: FetchLike = (url, { method, headers, body, signal, stream = false }) =>
  new Promise((resolve, reject) => {
    const fail = (err: unknown): void => reject(signal?.aborted ? signal.reason : err);
    if (signal?.aborted) return fail(signal.reason);
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method, headers, signal }, (res) => {
      const status = res.statusCode ?? 0;
      const answer = { ok: status >= 200 && status < 300, status, statusText: res.statusMessage ?? '', headers: headerGetter(res) };
      if (stream) {
        resolve({ ...answer, body: res, text: () => readAll(res) });
        return;
      }
      readAll(res).then((text) => resolve({ ...answer, text: async () => text }), fail);
    });
    req.on('error', fail);
    req.end(body);
  });
