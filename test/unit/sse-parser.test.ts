// The client's Server-Sent Events reader (packages/client/src/sse.ts) on bodies cut anywhere, as a
// network delivers them: inside a line, between \r and \n, inside a multi-byte character.
import { describe, expect, it } from '@jest/globals';
import { parseEventStream, type ServerSentEvent } from '@taskengine/client';

async function parse(chunks: Array<string | Uint8Array>): Promise<ServerSentEvent[]> {
  async function* source() {
    yield* chunks;
  }
  const events: ServerSentEvent[] = [];
  for await (const event of parseEventStream(source())) events.push(event);
  return events;
}

const STREAM =
  ': subscribed\r\n\r\n' +
  'event: status\r\nid: 1-0\r\ndata: {"status":"queued","name":"Zürich ✓"}\r\n\r\n' +
  ': ping\n\n' +
  'event: progress\nid: 2-0\ndata: {"progress":50}\n\n' +
  'data: first\rdata:second\r\r' +
  'event: status\ndata: {"unfinished":true}\n';

const EXPECTED: ServerSentEvent[] = [
  { event: 'status', id: '1-0', data: '{"status":"queued","name":"Zürich ✓"}' },
  { event: 'progress', id: '2-0', data: '{"progress":50}' },
  // No event field: "message"; two data lines joined; the last id carries over.
  { event: 'message', id: '2-0', data: 'first\nsecond' },
];

describe('parseEventStream', () => {
  it('reads every event whole, whatever the chunks, and drops comments and an unfinished last event', async () => {
    const bytes = new TextEncoder().encode(STREAM);
    expect(await parse([STREAM])).toEqual(EXPECTED);
    // Every cut into two chunks, including inside "✓" (3 bytes) and between \r and \n.
    for (let cut = 1; cut < bytes.length; cut++) {
      expect({ cut, events: await parse([bytes.slice(0, cut), bytes.slice(cut)]) }).toEqual({ cut, events: EXPECTED });
    }
    expect(await parse([...bytes].map((byte) => Uint8Array.of(byte)))).toEqual(EXPECTED);
  });

  it('skips a byte order mark and ignores unknown fields', async () => {
    expect(await parse(['\uFEFFretry: 3000\nfoo: bar\nevent: status\ndata: {}\n\n'])).toEqual([{ event: 'status', id: undefined, data: '{}' }]);
  });
});
