/**
 * The fuzz test's HTTP client. Unlike the harness's client it sends what a hostile client
 * can: a lone surrogate in a path or query is sent as its WTF-8 bytes (%ED%A0%80, which
 * `encodeURIComponent` refuses and URLSearchParams replaces by U+FFFD), a query key may
 * repeat, a body may be any bytes with any media type. A request that gets no answer (a
 * reset, a timeout) comes back as status 0 with the error, never as a throw.
 */

/** What to send: the path and query are encoded here, from their decoded values. */
export interface WireRequest {
  readonly method: string;
  /** The path's segments, decoded; each is encoded on its own (a `/` inside is %2F). */
  readonly segments: readonly string[];
  /** Query pairs in order; a key may repeat. */
  readonly query: readonly (readonly [string, string])[];
  /** Appended to the query as is (malformed percent-encoding and the like). */
  readonly rawQuery?: string;
  readonly token?: string;
  readonly body?: { readonly bytes: string | Uint8Array; readonly contentType?: string };
}

/** One answer. */
export interface WireResponse {
  /** 0 when nothing came back. */
  readonly status: number;
  readonly headers: Headers | undefined;
  readonly text: string;
  /** The JSON body, undefined when it is not JSON. */
  readonly json: unknown;
  /** Why nothing came back. */
  readonly error?: string;
  readonly ms: number;
}

/**
 * Percent-encodes a decoded string: well-formed text as `encodeURIComponent` does, a lone
 * surrogate code unit as the three bytes it would have in WTF-8.
 */
export function encodeComponent(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(text.slice(i, i + 2));
      i++;
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      const bytes = [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)];
      out += bytes.map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else {
      out += encodeURIComponent(text[i] ?? '');
    }
  }
  return out;
}

/** The path and query of a request, encoded. */
export function targetOf(request: WireRequest): string {
  const path = request.segments.map((s) => `/${encodeComponent(s)}`).join('');
  const pairs = request.query.map(([k, v]) => `${encodeComponent(k)}=${encodeComponent(v)}`);
  if (request.rawQuery !== undefined) pairs.push(request.rawQuery);
  return pairs.length === 0 ? path : `${path}?${pairs.join('&')}`;
}

/** Sends `request` to the API at `baseUrl`; waits at most `timeoutMs` for the answer. */
export async function send(
  baseUrl: string,
  request: WireRequest,
  timeoutMs: number,
): Promise<WireResponse> {
  const headers: Record<string, string> = {};
  if (request.token !== undefined) headers.authorization = `Bearer ${request.token}`;
  if (request.body?.contentType !== undefined) headers['content-type'] = request.body.contentType;
  const started = performance.now();
  try {
    const response = await fetch(`${baseUrl}${targetOf(request)}`, {
      method: request.method,
      headers,
      body: request.body?.bytes,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return {
      status: response.status,
      headers: response.headers,
      text,
      json,
      ms: performance.now() - started,
    };
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return {
      status: 0,
      headers: undefined,
      text: '',
      json: undefined,
      error: `${e instanceof Error ? e.message : String(e)}${cause}`,
      ms: performance.now() - started,
    };
  }
}
