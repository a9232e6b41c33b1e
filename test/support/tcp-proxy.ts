// A TCP proxy on loopback that stands between one process and Redis, so a test can break that one link
// the way networks break: freeze() stops every byte in both directions while the connections stay open
// (a partition: the client sees nothing fail, its commands just get no answer), drop() closes every
// connection and refuses new ones (the peer is gone), resume() lets traffic flow again. Nothing is
// lost while frozen: bytes read meanwhile are held and delivered in order on resume.
import { connect, createServer, type Server, type Socket } from 'node:net';

type LinkState = 'open' | 'frozen' | 'dropped';

/** One client connection and its connection to the target; each side forwards to the other. */
class Link {
  private readonly held: Array<{ to: Socket; chunk: Buffer }> = [];

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    private readonly frozen: () => boolean,
    onClose: () => void,
  ) {
    this.forward(client, upstream);
    this.forward(upstream, client);
    for (const socket of [client, upstream]) {
      socket.on('error', () => this.destroy());
      socket.on('close', () => {
        this.destroy();
        onClose();
      });
    }
  }

  private forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.frozen()) {
        // Stop reading too, so the sender's kernel buffers fill as they would across a dead network.
        this.held.push({ to, chunk });
        from.pause();
        return;
      }
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (!this.frozen()) from.resume();
    });
  }

  /** Delivers what was held while frozen, in order, and reads again. */
  thaw(): void {
    for (const { to, chunk } of this.held.splice(0)) if (!to.destroyed) to.write(chunk);
    this.client.resume();
    this.upstream.resume();
  }

  pause(): void {
    this.client.pause();
    this.upstream.pause();
  }

  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }
}

export class TcpProxy {
  private state: LinkState = 'open';
  private readonly links = new Set<Link>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Starts a proxy on a free loopback port that forwards to 127.0.0.1:`targetPort`. */
  static async start(targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer({ pauseOnConnect: true }, (client) => proxy!.accept(client, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    proxy = new TcpProxy(server, typeof address === 'object' && address ? address.port : 0);
    return proxy;
  }

  /** The proxy's address as a Redis URL. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Connections currently carried. */
  get connections(): number {
    return this.links.size;
  }

  private accept(client: Socket, targetPort: number): void {
    if (this.state === 'dropped') {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    const link = new Link(client, upstream, () => this.state === 'frozen', () => this.links.delete(link));
    this.links.add(link);
    // A connection made while frozen waits like the others (pauseOnConnect kept it unread so far).
    if (this.state === 'open') link.thaw();
  }

  /** Stops forwarding in both directions; connections stay open (a network partition). */
  freeze(): void {
    this.state = 'frozen';
    for (const link of this.links) link.pause();
  }

  /** Closes every connection and refuses new ones until resume() (the other side is unreachable). */
  drop(): void {
    this.state = 'dropped';
    for (const link of this.links) link.destroy();
    this.links.clear();
  }

  /** Forwards again: held bytes first; after a drop, new connections are accepted. */
  resume(): void {
    this.state = 'open';
    for (const link of this.links) link.thaw();
  }

  async close(): Promise<void> {
    for (const link of this.links) link.destroy();
    this.links.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
