// Requests Node's HTTP server refuses before Express sees them (headers or URL over 16 KiB, a malformed
// Content-Length, bytes that are not HTTP, an Expect other than 100-continue) get the contract's error
// body too; Node's own answers have an empty body. Whoever listens (main.ts, the test harness) attaches
// this to the server.
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApiErrorCode } from '@taskengine/core';

const errorBody = (code: ApiErrorCode, message: string): string => JSON.stringify({ success: false, error: { code, message } });

/** Node's parser error codes with their answers (the same statuses Node itself would send). */
function answerFor(code: string | undefined): [status: number, reason: string, error: ApiErrorCode, message: string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'Request Header Fields Too Large', 'payload_too_large', 'request headers (or the URL) are larger than the server accepts'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'Payload Too Large', 'payload_too_large', 'request chunk extensions are larger than the server accepts'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'Request Timeout', 'validation_error', 'the request did not arrive in time'];
    default:
      return [400, 'Bad Request', 'validation_error', 'malformed HTTP request'];
  }
}

export function answerNodeRefusals(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // As Node does: answer only when no response on this connection has started, so a pipelining
    // client never reads this answer as part of another one.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, reason, code, message] = answerFor(err.code);
    const body = errorBody(code, message);
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  // Listening replaces Node's bare 417 for an Expect it does not know (100-continue is answered as before).
  server.on('checkExpectation', (req, res) => {
    const body = errorBody('validation_error', `Expect: ${String(req.headers.expect).slice(0, 100)} is not supported (only 100-continue)`);
    res.writeHead(417, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
    res.end(body);
  });
}
