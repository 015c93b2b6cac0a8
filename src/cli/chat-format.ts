// Chat frames as parley's own chat clients write and read them: the terminal client
// (`parley chat`, src/cli/chat.ts) and the default web page (web/chat-frames.js, which
// keeps a plain-JavaScript copy of these rules for the browser; keep the two in step). Pure:
// no sockets, no streams, so every rule is unit-tested in chat-format.test.ts.
//
// Mles relays frames verbatim, so the message format is the clients' choice. Ours:
// a chat message is a BINARY frame holding UTF-8 JSON {"uid","channel","message"}.
// Binary, because MlesTalk (the main Mles client) sends its messages as binary CBOR
// frames and treats every TEXT frame as a join header; a text message of ours would
// show up there as a bogus join. Text frames are join headers {"uid","channel"}, which
// the node replays from history (with any auth stripped).

import { REFUSALS } from '../websocket/refusals.ts';

export interface ChatMessage {
  readonly uid: string;
  readonly channel: string;
  readonly message: string;
}

/** What one received frame means to a chat client. */
export type ChatFrame =
  | { readonly kind: 'join'; readonly uid: string; readonly channel: string | undefined }
  | { readonly kind: 'message'; readonly uid: string; readonly channel: string | undefined; readonly message: string }
  /** A text frame that is not a header, e.g. from a `--raw` client. */
  | { readonly kind: 'text'; readonly text: string }
  /** A binary frame we cannot read, e.g. MlesTalk's encrypted CBOR. */
  | { readonly kind: 'binary'; readonly bytes: number };

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });
const lenientDecoder = new TextDecoder('utf-8');

/** The join header, sent as the connection's first (text) frame. */
export function encodeHeader(uid: string, channel: string, auth?: string): string {
  return JSON.stringify(auth === undefined ? { uid, channel } : { uid, channel, auth });
}

/** A chat message as the bytes of one binary frame. */
export function encodeChatMessage(message: ChatMessage): Uint8Array {
  return encoder.encode(
    JSON.stringify({ uid: message.uid, channel: message.channel, message: message.message }),
  );
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function asMessage(fields: Record<string, unknown>): ChatFrame | undefined {
  if (typeof fields.message !== 'string') return undefined;
  const uid = typeof fields.uid === 'string' && fields.uid !== '' ? fields.uid : '?';
  return { kind: 'message', uid, channel: optionalString(fields.channel), message: fields.message };
}

/** Classifies a received frame. Never throws: anything unreadable is `text` or `binary`. */
export function decodeFrame(data: Uint8Array, isBinary: boolean): ChatFrame {
  if (!isBinary) {
    // Text frames are valid UTF-8 (the WebSocket layer checks), so lenient decoding is exact.
    const text = lenientDecoder.decode(data);
    const fields = parseJsonObject(text);
    if (fields === undefined) return { kind: 'text', text };
    // Not a header by anyone's design, but clearly meant as a message: show it as one.
    const message = asMessage(fields);
    if (message !== undefined) return message;
    if (typeof fields.uid === 'string' && fields.uid !== '') {
      return { kind: 'join', uid: fields.uid, channel: optionalString(fields.channel) };
    }
    return { kind: 'text', text };
  }
  let text: string;
  try {
    text = strictDecoder.decode(data);
  } catch {
    return { kind: 'binary', bytes: data.byteLength };
  }
  const fields = parseJsonObject(text);
  return (fields && asMessage(fields)) ?? { kind: 'binary', bytes: data.byteLength };
}

// C0/C1 controls (terminal escape sequences) and bidi overrides (text that reads
// differently from what it is). Tab is harmless and kept.
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/** Makes peer-controlled text safe to print on a terminal, on one line. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (char) => {
    if (char === '\n') return '\\n';
    if (char === '\r') return '\\r';
    return `\\u{${char.codePointAt(0)?.toString(16) ?? '?'}}`;
  });
}

/** One output line for a frame (without the newline), terminal-safe. */
export function formatFrame(frame: ChatFrame): string {
  switch (frame.kind) {
    case 'message':
      return `${terminalSafe(frame.uid)}: ${terminalSafe(frame.message)}`;
    case 'join':
      return `* ${terminalSafe(frame.uid)} joined`;
    case 'text':
      return `[text] ${terminalSafe(frame.text)}`;
    case 'binary':
      return `[binary ${frame.bytes} bytes]`;
  }
}

/**
 * Reasons for close codes whose close frame came without one (the Mles reference sends
 * none): the standard codes, then the refusal catalogue's own.
 */
const CLOSE_REASONS: Readonly<Record<number, string>> = {
  1000: 'normal closure',
  1001: 'going away',
  1005: 'no status code',
  1006: 'connection lost',
  ...Object.fromEntries(Object.values(REFUSALS).filter((r) => r.close >= 1002).map((r) => [r.close, r.reason])),
};

/** E.g. "closed 4409: uid already joined to channel". */
export function describeClose(code: number, reason: string): string {
  const text = reason !== '' ? reason : (CLOSE_REASONS[code] ?? 'no reason given');
  return `closed ${code}: ${terminalSafe(text)}`;
}

/**
 * Whether the node turned this client away (44xx): reconnecting with the same header
 * would be refused again, so clients stop instead of retrying.
 */
export function isRefusal(code: number): boolean {
  return code >= 4400 && code <= 4499;
}

const pad = (value: number): string => String(value).padStart(2, '0');

/**
 * A line's time, local: "[15:04]" for today (as `now` has it), "[2026-12-06 15:04]" for
 * another day. Stored messages can be days old; a bare time would mislead.
 */
export function formatTime(ts: number, now: number): string {
  const date = new Date(ts);
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  if (date.toDateString() === new Date(now).toDateString()) return `[${time}]`;
  return `[${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time}]`;
}

/** A printed line with its time when known (Mles history carries none). */
export function timedLine(line: string, ts: number | undefined, now: number): string {
  return ts === undefined ? line : `${formatTime(ts, now)} ${line}`;
}

/** Printed once per run where the channel's history ends and live messages begin. */
export function liveMarker(historyShown: boolean): string {
  return historyShown ? '--- earlier messages above, new messages below ---' : '--- no earlier messages ---';
}
