// A stand-in HTTP server for the tests: it plays OneAPI or a network_request target, on loopback only
// (127.0.0.1, and ::1 when asked), and records what reached it: every TCP connection, every request
// (method, path, headers, body) and whether the client went away before the answer was finished.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The client closed the connection before the answer was complete (abort, timeout, cap). */
  closedEarly: boolean;
}

export type StandInHandler = (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => void | Promise<void>;

export interface StandIn {
  port: number;
  /** `http://127.0.0.1:port` */
  origin: string;
  requests: RecordedRequest[];
  /** TCP connections accepted, requests or not: "was it reached at all". */
  connections: number;
  setHandler(handler: StandInHandler): void;
  close(): Promise<void>;
}

export const LOOPBACK_HOSTS = ['127.0.0.1', '::1'] as const;

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** True when this machine can listen on ::1 (some containers have no IPv6 loopback). */
export async function ipv6LoopbackAvailable(): Promise<boolean> {
  const server = http.createServer();
  try {
    await listen(server, 0, '::1');
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

/**
 * Starts the stand-in on 127.0.0.1 (and on ::1 at the same port when `hosts` says so). The default
 * handler answers 200 `{"ok":true}`.
 */
export async function startStandIn(handler?: StandInHandler, options: { hosts?: ReadonlyArray<(typeof LOOPBACK_HOSTS)[number]> } = {}): Promise<StandIn> {
  const hosts = options.hosts ?? ['127.0.0.1'];
  let current: StandInHandler = handler ?? ((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  const sockets = new Set<Socket>();
  const standIn: StandIn = {
    port: 0,
    origin: '',
    requests: [],
    connections: 0,
    setHandler: (next) => void (current = next),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    const recorded: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '', closedEarly: false };
    standIn.requests.push(recorded);
    res.on('close', () => void (recorded.closedEarly = !res.writableFinished));
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      recorded.body = Buffer.concat(chunks).toString('utf8');
      Promise.resolve(current(req, res, recorded)).catch((err) => res.destroy(err));
    });
  };
  const servers = hosts.map(() => {
    const server = http.createServer(onRequest);
    server.on('connection', (socket) => {
      standIn.connections += 1;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    return server;
  });
  // The same port on every host, so one URL template fits 127.0.0.1 and [::1]; retry if ::1 has it taken.
  for (let attempt = 0; ; attempt++) {
    try {
      standIn.port = await listen(servers[0]!, 0, hosts[0]!);
      for (let i = 1; i < servers.length; i++) await listen(servers[i]!, standIn.port, hosts[i]!);
      break;
    } catch (err) {
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
      if (attempt >= 5) throw err;
    }
  }
  standIn.origin = `http://127.0.0.1:${standIn.port}`;
  return standIn;
}

/** Answers JSON. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/**
 * Streams `total` bytes in 64 KiB chunks, respecting back-pressure, and stops as soon as the client
 * goes away. Resolves with the bytes written and whether the whole of it was sent.
 */
export async function streamBytes(res: ServerResponse, total: number, contentType = 'text/plain'): Promise<{ written: number; finished: boolean }> {
  res.writeHead(200, { 'content-type': contentType });
  const chunk = Buffer.alloc(64 * 1024, 'a');
  let written = 0;
  while (written < total) {
    if (res.destroyed) return { written, finished: false };
    const ok = res.write(chunk);
    written += chunk.length;
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  res.end();
  return { written, finished: true };
}
