// What every route of the HTTP API reads and answers the same way: the channel in a
// path, the query parameters it knows (any other is refused with 400 rather than
// ignored: a misspelt `limt=1` would otherwise quietly give a default page), a limit,
// the auth refusal, strict UTF-8, and a JSON answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { isName, NAME_RULE } from '../access/names.ts';

/** The path of a channel's messages: GET reads them, POST publishes one. */
export const MESSAGES_PATH = /^\/v1\/channels\/([^/]+)\/messages\/?$/;

export type Refusal = { readonly ok: false; readonly status: 400 | 404; readonly error: string };

/** The channel named by a path that matched `MESSAGES_PATH`, or why it is not one. */
export function channelOf(match: RegExpExecArray): { readonly ok: true; readonly channel: string } | Refusal {
  let channel: string;
  try {
    channel = decodeURIComponent(match[1]!);
  } catch {
    return { ok: false, status: 400, error: 'the channel is not valid percent-encoding' };
  }
  if (!isName(channel)) return { ok: false, status: 400, error: `the channel must be ${NAME_RULE}` };
  return { ok: true, channel };
}

/** The refusal of the first parameter not in `known`, if any. */
export function unknownParameter(params: URLSearchParams, known: readonly string[]): string | undefined {
  for (const name of params.keys()) {
    if (!known.includes(name)) return `unknown parameter ${JSON.stringify(name)}; known: ${known.join(', ')}`;
  }
  return undefined;
}

/** `limit`, `fallback` when absent; a string says what is wrong with it. */
export function limitParam(params: URLSearchParams, fallback: number, max: number): number | string {
  const text = params.get('limit');
  if (text === null) return fallback;
  if (!/^\d{1,7}$/.test(text) || Number(text) < 1) return 'limit must be a whole number >= 1';
  const limit = Number(text);
  return limit > max ? `limit must be at most ${max}` : limit;
}

export const AUTH_FAILED = { error: 'auth failed: give uid and auth as in an Mles header (auth = SipHash of uid, channel and the key)' };

/** Throws on bytes that are not UTF-8; keeps a leading byte order mark as a character. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes as text if they are UTF-8, otherwise undefined. */
export function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Answers with a JSON body; `close` ends the connection (a body not read may follow). */
export function sendJson(res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

/** The body, or undefined once it is past `max` bytes (the rest is then read and dropped). */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
