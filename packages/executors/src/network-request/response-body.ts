// How a response body is put in a JSON result: text as text (in its declared charset), anything else
// base64 (`body_encoding` says which), and a JSON body also parsed into `json` when it is complete.
const TEXT_SUBTYPES = /^(javascript|ecmascript|x-www-form-urlencoded|x-ndjson|ndjson|yaml|x-yaml|graphql|sql|csv)$|(^|[+-])(json|xml)$/;

interface MediaType {
  type: string;
  subtype: string;
  charset?: string;
}

function mediaType(contentType: string | undefined): MediaType | undefined {
  if (!contentType) return undefined;
  const [essence = '', ...params] = contentType.toLowerCase().split(';');
  const [type = '', subtype = ''] = essence.trim().split('/');
  const charset = params.map((p) => p.trim()).find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"|"$/g, '');
  return { type, subtype, charset };
}

const isJson = (media: MediaType | undefined): boolean => media !== undefined && /(^|\+)json$/.test(media.subtype);

/** Text in the declared charset; an unknown charset falls back to UTF-8 rather than failing the task. */
function decodeText(body: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

/** Undeclared content is text when it is valid UTF-8 (a truncated tail may end mid-character). */
function utf8OrNull(body: Buffer, truncated: boolean): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body, { stream: truncated });
  } catch {
    return null;
  }
}

export interface DecodedBody {
  body: string;
  body_encoding: 'utf8' | 'base64';
  json?: unknown;
}

export function decodeBody(body: Buffer, contentType: string | undefined, truncated: boolean): DecodedBody {
  const media = mediaType(contentType);
  let text: string | null;
  if (media === undefined || media.type === '') text = utf8OrNull(body, truncated);
  else if (media.type === 'text' || TEXT_SUBTYPES.test(media.subtype)) text = decodeText(body, media.charset);
  else text = null;
  if (text === null) return { body: body.toString('base64'), body_encoding: 'base64' };
  const decoded: DecodedBody = { body: text, body_encoding: 'utf8' };
  // A cut-off JSON document would not parse, or worse, parse as something else: only whole bodies.
  if (!truncated && isJson(media) && text.trim() !== '') {
    try {
      decoded.json = JSON.parse(text);
    } catch {
      // Not JSON after all: the text stays in `body`.
    }
  }
  return decoded;
}
