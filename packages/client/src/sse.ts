// A Server-Sent Events reader (the HTML standard's text/event-stream format) over a body that arrives
// in chunks cut anywhere: inside a line, between the \r and \n of a line end, inside a UTF-8 character.

export interface ServerSentEvent {
  /** The `event:` field; `message` when the event had none. */
  event: string;
  /** The `data:` lines, joined with newlines. */
  data: string;
  /** The last `id:` seen so far (it carries over to later events, as in a browser). */
  id: string | undefined;
}

/** Yields each complete event in order; comments (`: ping`) and an unfinished event at the end are dropped. */
export async function* parseEventStream(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let lastId: string | undefined;
  let first = true;
  for await (const chunk of chunks) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (first && buffer.length > 0) {
      first = false;
      if (buffer.charCodeAt(0) === 0xfeff) buffer = buffer.slice(1);
    }
    for (;;) {
      const lf = buffer.indexOf('\n');
      const cr = buffer.indexOf('\r');
      let end: number;
      let next: number;
      if (lf >= 0 && (cr < 0 || lf < cr)) {
        end = lf;
        next = lf + 1;
      } else if (cr >= 0) {
        // A \r last in the buffer may be the first half of \r\n: wait for the next chunk.
        if (cr === buffer.length - 1) break;
        end = cr;
        next = buffer[cr + 1] === '\n' ? cr + 2 : cr + 1;
      } else break;
      const line = buffer.slice(0, end);
      buffer = buffer.slice(next);
      if (line === '') {
        if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id: lastId };
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id' && !value.includes('\0')) lastId = value;
    }
  }
}
