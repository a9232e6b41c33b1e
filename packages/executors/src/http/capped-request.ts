// One HTTP exchange through got with a bounded body, shared by network_request and ai_inference.
// got's promise API buffers the whole body before anyone can look at it; here the body is read as a
// stream and the download is stopped (stream destroyed, socket closed) once `maxBytes` are in hand, so
// a huge or endless answer costs at most `maxBytes` of memory and not the rest of the transfer.
import type { IncomingHttpHeaders } from 'node:http';
import got, { type Response, type StreamOptions } from 'got';

export interface CappedResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** Final URL, after redirects. */
  url: string;
  redirectCount: number;
  body: Buffer;
  /** True when the body was longer than `maxBytes` and the download was stopped there. */
  truncated: boolean;
}

/** Fixed settings: the engine does the retrying, HTTP errors are answers to classify, never exceptions. */
const BASE: StreamOptions = {
  isStream: true,
  throwHttpErrors: false,
  retry: { limit: 0 },
  http2: false,
  enableUnixSockets: false,
  cache: false,
};

/**
 * Sends the request and reads at most `maxBytes` of the (decoded) body. Rejects with got's errors for
 * transport failures; pass them to `transportFailure`. `onProgress` gets 0..100 when the length is known.
 */
export async function requestCapped(
  url: string | URL,
  options: StreamOptions,
  maxBytes: number,
  onProgress?: (percent: number) => void,
): Promise<CappedResponse> {
  const stream = got.stream(url, { ...options, ...BASE });
  try {
    const response = await new Promise<Response>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    const declared = Number(response.headers['content-length']);
    const expected = Number.isFinite(declared) && declared > 0 ? Math.min(declared, maxBytes) : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (size + chunk.length > maxBytes) {
        chunks.push(chunk.subarray(0, maxBytes - size));
        size = maxBytes;
        truncated = true;
        break; // leaving the loop destroys the stream: the rest is never downloaded
      }
      chunks.push(chunk);
      size += chunk.length;
      if (expected && onProgress) onProgress((size / expected) * 100);
    }
    return {
      statusCode: response.statusCode,
      headers: response.headers,
      url: response.url,
      redirectCount: response.redirectUrls.length,
      body: Buffer.concat(chunks, size),
      truncated,
    };
  } finally {
    stream.destroy();
  }
}
