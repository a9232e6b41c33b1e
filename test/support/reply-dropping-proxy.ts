// A TCP proxy in front of Redis that can cut a connection after Redis has run a command and before
// its reply reaches the client: the "did my write happen?" case of a network failure or a crash,
// made repeatable (a real crash hits that window only now and then).
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface ReplyDroppingProxy {
  url: string;
  /** The next reply from Redis containing `marker` is not delivered: both connections are cut instead. */
  dropNextReply(marker: string): void;
  /** How many replies were dropped so far. */
  dropped(): number;
  close(): Promise<void>;
}

export async function startReplyDroppingProxy(redisPort: number): Promise<ReplyDroppingProxy> {
  let marker: string | undefined;
  let dropped = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (marker !== undefined && chunk.toString('latin1').includes(marker)) {
        marker = undefined;
        dropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `redis://127.0.0.1:${port}`,
    dropNextReply: (text) => {
      marker = text;
    },
    dropped: () => dropped,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
