// A test's view of a Server-Sent Events response over real HTTP: every event and comment as the
// server wrote it, in order, and whether the server ended the stream. It reads the wire format
// itself (blocks separated by a blank line, `field: value` lines) rather than through the client
// package, so a mistake shared by the API and the client's parser cannot hide.
import { waitFor } from './harness.js';

export interface SseEvent {
  event: string;
  id: string | undefined;
  /** `data:` parsed as JSON. */
  data: any;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** The error body when the answer is not a stream. */
  body: any;
  events: SseEvent[];
  comments: string[];
  /** Settles when the server ends the stream (or the test closes it). */
  ended: Promise<void>;
  /** True once the server ended the stream. */
  readonly endedByServer: boolean;
  /** The first event from index `from` on that matches, waiting for it. */
  next(match: (event: SseEvent) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<SseEvent>;
  /** Closes the connection from the client side. */
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let endedByServer = false;
  let body: any;
  const read = async (): Promise<void> => {
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
      const text = await response.text();
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      return;
    }
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body!) {
        buffer += decoder.decode(chunk, { stream: true });
        let blank: number;
        while ((blank = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, blank);
          buffer = buffer.slice(blank + 2);
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            if (line.startsWith(': ')) comments.push(line.slice(2));
            else fields.set(line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2));
          }
          if (fields.has('data')) events.push({ event: fields.get('event') ?? 'message', id: fields.get('id'), data: JSON.parse(fields.get('data')!) });
        }
      }
      endedByServer = true;
    } catch {
      // closed from this side
    }
  };
  const ended = read();
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) await ended;
  return {
    status: response.status,
    headers: response.headers,
    get body() {
      return body;
    },
    events,
    comments,
    ended,
    get endedByServer() {
      return endedByServer;
    },
    next: (match, { from = 0, timeoutMs = 15_000 } = {}) =>
      waitFor(() => events.slice(from).find(match), { timeoutMs, intervalMs: 10, what: `an event on ${url} (got ${JSON.stringify(events.map((e) => [e.event, e.data.status ?? e.data.progress]))})` }),
    close: () => controller.abort(),
  };
}

/** The statuses a stream's status events carried, in order. */
export const statusesOf = (stream: SseStream, taskId?: string): string[] =>
  stream.events.filter((e) => e.event === 'status' && (!taskId || e.data.task_id === taskId)).map((e) => e.data.status as string);
