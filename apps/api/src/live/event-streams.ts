// Server-Sent Events responses (text/event-stream) and the registry of the ones open in this process:
// one heartbeat timer for all of them, a count for /metrics, and shutdown, which ends them all so
// the API's drain does not wait on streams that never finish by themselves.
import { unavailable } from '@taskengine/core';
import type { Response } from 'express';

/**
 * A client that reads slower than its events come (the all-tasks stream under load) would make this
 * process buffer without bound: past this many unsent bytes its stream is cut, and it can reconnect.
 */
const MAX_UNSENT_BYTES = 1 << 20;

export class EventStream {
  private ended = false;

  constructor(
    private readonly res: Response,
    private readonly onEnd: () => void,
  ) {}

  /** One event; `data` is one line of JSON. */
  send(event: string, data: unknown, id?: string): void {
    this.write(`event: ${event}\n${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`);
  }

  /** A comment line: clients ignore it, proxies see traffic. */
  comment(text: string): void {
    this.write(`: ${text}\n\n`);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.res.writableEnded) this.res.end();
    this.onEnd();
  }

  private write(text: string): void {
    if (this.ended) return;
    if (this.res.writableLength > MAX_UNSENT_BYTES) {
      this.res.destroy();
      this.end();
      return;
    }
    this.res.write(text);
  }
}

export class EventStreams {
  private readonly open = new Set<EventStream>();
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly heartbeatMs: number) {}

  /** Streams open now. */
  get size(): number {
    return this.open.size;
  }

  /**
   * Answers 200 with an event stream, headers sent at once (a client knows it is subscribed when they
   * arrive). `onEnd` runs once, however the stream ends: the client left, the server ended it, shutdown.
   */
  start(res: Response, onEnd: () => void): EventStream {
    if (this.closed) throw unavailable('the API is shutting down');
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      // no-transform: a compression middleware or proxy must not buffer the stream to compress it.
      'Cache-Control': 'no-cache, no-transform',
      // nginx buffers responses unless told not to.
      'X-Accel-Buffering': 'no',
      // The connection closes with the stream: nothing waits on an idle keep-alive socket at shutdown.
      Connection: 'close',
    });
    res.flushHeaders();
    const stream = new EventStream(res, () => {
      this.open.delete(stream);
      if (this.open.size === 0) this.stopHeartbeat();
      onEnd();
    });
    this.open.add(stream);
    this.heartbeat ??= setInterval(() => {
      for (const open of [...this.open]) open.comment('ping');
    }, this.heartbeatMs);
    res.on('close', () => stream.end());
    // The client may have gone while the stream was being prepared: its 'close' has passed already.
    if (res.destroyed || res.socket?.destroyed !== false) stream.end();
    return stream;
  }

  /** Shutdown: ends every stream now and refuses new ones. */
  closeAll(): void {
    this.closed = true;
    for (const stream of [...this.open]) stream.end();
    this.stopHeartbeat();
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
