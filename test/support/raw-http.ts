// HTTP/1.1 over a bare TCP socket, for requests fetch refuses to send: any header bytes, a
// Content-Length that lies, invalid UTF-8, a body on GET, a half-closed socket. Each request has a
// deadline, so a server that never answers fails the test with a message instead of hanging it.
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** The body parsed as JSON when it is JSON, else its text. */
  body: any;
  text: string;
}

export interface RawRequest {
  method: string;
  /** Sent as is: percent-encode it yourself. */
  path: string;
  /** Header lines as [name, value]; Host and Connection: close are added unless given. */
  headers?: Array<[string, string]>;
  body?: string | Buffer;
  /** Content-Length to declare; default the body's length (when there is a body). null: none. */
  contentLength?: number | string | null;
  /** Close our sending side after the body (a client that gives up on a long body). */
  halfClose?: boolean;
  timeoutMs?: number;
}

export const RAW_TIMEOUT_MS = 10_000;

/** The bytes after any interim 1xx answers (100 Continue): the final response is what a test checks. */
function finalResponse(raw: Buffer): Buffer {
  while (/^HTTP\/1\.[01] 1\d\d/.test(raw.subarray(0, 12).toString('latin1'))) {
    const end = raw.indexOf('\r\n\r\n');
    if (end < 0) break;
    raw = raw.subarray(end + 4);
  }
  return raw;
}

function parseResponse(all: Buffer): RawResponse {
  const raw = finalResponse(all);
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete response head in ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let bodyBytes = raw.subarray(end + 4);
  if (headers['content-length'] !== undefined) bodyBytes = bodyBytes.subarray(0, Number(headers['content-length']));
  else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) bodyBytes = dechunk(bodyBytes);
  const text = bodyBytes.toString('utf8');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status, headers, body, text };
}

function dechunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; ; ) {
    const lineEnd = bytes.indexOf('\r\n', at);
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (lineEnd < 0 || !(size > 0)) return Buffer.concat(parts);
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** True once `raw` holds a whole response (head, and as many body bytes as it declares). */
function complete(all: Buffer): boolean {
  const raw = finalResponse(all);
  if (raw.subarray(0, 12).toString('latin1').match(/^HTTP\/1\.[01] 1\d\d/)) return false;
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = raw.subarray(0, end).toString('latin1');
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) return raw.subarray(-5).toString('latin1') === '0\r\n\r\n';
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
  return length !== undefined && raw.length - (end + 4) >= Number(length);
}

export function rawRequest(baseUrl: string, request: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const body = request.body === undefined ? undefined : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body, 'utf8');
  const headers = [...(request.headers ?? [])];
  const has = (name: string): boolean => headers.some(([n]) => n.toLowerCase() === name);
  if (!has('host')) headers.unshift(['Host', url.host]);
  if (!has('connection')) headers.push(['Connection', 'close']);
  const declared = request.contentLength === undefined ? body?.length : request.contentLength;
  if (declared !== null && declared !== undefined) headers.push(['Content-Length', String(declared)]);
  const head = `${request.method} ${request.path} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  const timeoutMs = request.timeoutMs ?? RAW_TIMEOUT_MS;

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(url.port), url.hostname);
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) return reject(error);
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (err) {
        reject(err as Error);
      }
    };
    const timer = setTimeout(
      () => finish(new Error(`no answer within ${timeoutMs} ms to ${request.method} ${request.path.slice(0, 120)}`)),
      timeoutMs,
    );
    socket.on('connect', () => {
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body ?? Buffer.alloc(0)]));
      if (request.halfClose) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (complete(Buffer.concat(chunks))) finish();
    });
    // The server may close the connection after answering; whatever arrived is the answer.
    socket.on('end', () => finish());
    socket.on('error', (err) => (chunks.length ? finish() : finish(err)));
  });
}

/** A JSON request over rawRequest: the body serialised, Content-Type application/json unless given. */
export function rawJson(baseUrl: string, method: string, path: string, body?: unknown, headers: Array<[string, string]> = []): Promise<RawResponse> {
  const withType: Array<[string, string]> =
    body !== undefined && !headers.some(([n]) => n.toLowerCase() === 'content-type') ? [['Content-Type', 'application/json'], ...headers] : headers;
  return rawRequest(baseUrl, { method, path, headers: withType, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
}
