// `parley chat`: a terminal chat client for any Mles v2 node, in the spirit of a
// websocat session, or (with --native) for a parley node through the client SDK
// (src/client), which resumes after drops. Owns flag parsing and the session's
// lifetime; what frames mean and how they print lives in chat-format.ts.

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { RawData } from 'ws';
import { ParleyClient, ParleyError } from '../client/index.ts';
import type { Message, PublishResult } from '../client/index.ts';
import { mlesAuth } from '../access/auth.ts';
import { parseMlesHeader } from '../mles/header.ts';
import { decodeFrame, describeClose, encodeChatMessage, encodeHeader, formatFrame } from './chat-format.ts';

export interface ChatIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Where MLES_KEY is read from when --key is not given; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface ChatOptions {
  readonly url: string;
  readonly uid: string;
  readonly channel: string;
  readonly key: string | undefined;
  readonly raw: boolean;
  /** Speak parley's native protocol through the SDK instead of Mles. */
  readonly native: boolean;
  /** With native: stored messages shown on joining. */
  readonly history: number;
}

/** Stored messages a native chat shows on joining, like the node's Mles replay (--limit). */
const DEFAULT_HISTORY = 200;
const MAX_HISTORY = 100_000;

export const CHAT_USAGE = `Usage: parley chat --url URL --uid NAME --channel NAME [--key MLES_KEY] [--raw]
                   [--native [--history N]]

Joins a channel on a Mles v2 node. Each line typed on stdin is sent to the channel;
every frame received is printed on its own line:
  alice: hello          a chat message
  * alice joined        a join header (replayed from history)
  [binary 42 bytes]     a frame this client cannot read (e.g. MlesTalk's encrypted CBOR)
The channel's recent history is printed first. End of input (Ctrl-D) leaves cleanly.

Options:
  --url URL         node address, ws://host:port/ or wss://host/ (http(s):// also accepted)
  --uid NAME        your name (printable ASCII)
  --channel NAME    channel to join (printable ASCII)
  --key MLES_KEY    shared key of a node that requires auth (default: env MLES_KEY)
  --raw             send lines as-is as text frames and print frames as-is, like websocat
  --native          use parley's native protocol (parley.v1) instead of Mles: the client
                    reconnects by itself after a drop or a node restart and resumes where
                    it was, and every line is acknowledged by the node (stored once,
                    even when re-sent after a reconnect)
  --history N       with --native: stored messages shown on joining (default ${DEFAULT_HISTORY})
  -h, --help        show this help

Messages are sent as binary frames of UTF-8 JSON {"uid","channel","message"}, the same
format as the node's web chat page, so the two can talk to each other; native and Mles
chats on the same channel see each other's lines. A native chat shows no join lines
(the native protocol has no join headers) and does not print your own lines back.

Exit status: 0 after end of input, 1 when the node closes or refuses the connection
(the close code and reason are printed on stderr; with --native: when the node refuses
the connection, or cannot be reached at first), 2 for bad flags.
`;

export type ParsedChatArgs =
  | { readonly kind: 'run'; readonly options: ChatOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

function nodeUrl(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  // The node serves its page and its WebSocket on one port, so its http URL (as it
  // logs it) is accepted too.
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return undefined;
  return url.href;
}

/** Validates the flags after `chat` into options; never throws. */
export function parseChatArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedChatArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        url: { type: 'string' },
        uid: { type: 'string' },
        channel: { type: 'string' },
        key: { type: 'string' },
        raw: { type: 'boolean', default: false },
        native: { type: 'boolean', default: false },
        history: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
  }
  if (values.help) return { kind: 'help' };
  const missing = (['url', 'uid', 'channel'] as const).filter((name) => values[name] === undefined);
  if (missing.length > 0) {
    return { kind: 'error', message: `missing ${missing.map((name) => `--${name}`).join(', ')}` };
  }
  const url = nodeUrl(values.url ?? '');
  if (url === undefined) {
    return { kind: 'error', message: `--url must be a ws://, wss://, http:// or https:// URL, got '${values.url}'` };
  }
  const uid = values.uid ?? '';
  const channel = values.channel ?? '';
  // The node's own header rules, so a bad name fails here rather than as a 4400.
  const header = parseMlesHeader(encodeHeader(uid, channel));
  if (!header.ok) return { kind: 'error', message: `invalid --uid or --channel: ${header.error}` };
  let history = DEFAULT_HISTORY;
  if (values.history !== undefined) {
    if (!values.native) return { kind: 'error', message: '--history needs --native (Mles history is the node\'s --limit)' };
    history = Number(values.history);
    if (!/^\d+$/.test(values.history) || history > MAX_HISTORY) {
      return { kind: 'error', message: `--history must be a whole number from 0 to ${MAX_HISTORY}, got '${values.history}'` };
    }
  }
  return {
    kind: 'run',
    options: { url, uid, channel, key: values.key ?? env.MLES_KEY, raw: values.raw, native: values.native, history },
  };
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

/** Prints a frame as it came: text as text, binary as UTF-8 when it is valid. */
function formatRaw(bytes: Uint8Array, isBinary: boolean): string {
  if (!isBinary) return Buffer.from(bytes).toString('utf8');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return `[binary ${bytes.byteLength} bytes]`;
  }
}

/** How long a clean close may wait for the node's close frame before giving up. */
const CLOSE_TIMEOUT_MS = 5000;

function session(options: ChatOptions, io: ChatIo): Promise<number> {
  const { stdin, stdout, stderr } = io;
  const auth = options.key === undefined ? undefined : mlesAuth(options.uid, options.channel, options.key);
  const header = encodeHeader(options.uid, options.channel, auth);

  return new Promise<number>((resolve) => {
    const ws = new WebSocket(options.url, 'mles-websocket');
    let leaving = false;
    // Set when stderr already says why the connection failed, so the close is not reported twice.
    let failureShown = false;
    let opened = false;
    let lines: ReturnType<typeof createInterface> | undefined;

    ws.on('unexpected-response', (_request, response) => {
      // The node explains upgrade refusals (e.g. rate limits) in the body.
      failureShown = true;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 1000) body += chunk;
      });
      response.on('end', () => {
        const detail = body.trim() === '' ? '' : `: ${body.trim().slice(0, 1000)}`;
        stderr.write(`parley chat: node refused the connection: HTTP ${response.statusCode} ${response.statusMessage ?? ''}${detail}\n`);
        ws.terminate();
      });
    });

    ws.on('open', () => {
      opened = true;
      ws.send(header);
      stderr.write(`connected to ${options.url}, joining channel ${options.channel} as ${options.uid}\n`);
      lines = createInterface({ input: stdin, crlfDelay: Infinity, terminal: false });
      lines.on('line', (line) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        if (options.raw) {
          ws.send(line, { binary: false });
        } else if (line !== '') {
          ws.send(encodeChatMessage({ uid: options.uid, channel: options.channel, message: line }), { binary: true });
        }
      });
      lines.on('close', () => {
        if (ws.readyState !== WebSocket.OPEN) return;
        leaving = true;
        ws.close(1000, 'bye');
        setTimeout(() => ws.terminate(), CLOSE_TIMEOUT_MS).unref();
      });
    });

    ws.on('message', (data, isBinary) => {
      const bytes = toBytes(data);
      const line = options.raw ? formatRaw(bytes, isBinary) : formatFrame(decodeFrame(bytes, isBinary));
      stdout.write(`${line}\n`);
    });

    ws.on('error', (error) => {
      if (failureShown) return;
      stderr.write(`parley chat: ${error.message}\n`);
      // Before the upgrade there is no close code worth showing (ws reports 1006).
      if (!opened) failureShown = true;
    });

    ws.on('close', (code, reason) => {
      lines?.close();
      if (leaving && (code === 1000 || code === 1005)) {
        resolve(0);
        return;
      }
      if (!failureShown) stderr.write(`${describeClose(code, reason.toString('utf8'))}\n`);
      resolve(1);
    });
  });
}

/**
 * The same chat over the native protocol. The SDK delivers every stored and live message
 * of the channel, our own included: those we sent in this session are not printed again,
 * as in the Mles mode, where the node sends no echo.
 */
async function nativeSession(options: ChatOptions, io: ChatIo): Promise<number> {
  const { stdin, stdout, stderr } = io;
  const client = new ParleyClient({ url: options.url, uid: options.uid, key: options.key });
  /** Payloads sent in this session whose echo has not come back yet, counted. */
  const unechoed = new Map<string, number>();
  const keyOf = (payload: Uint8Array, binary: boolean) => `${binary ? 'b' : 't'}${Buffer.from(payload).toString('base64')}`;
  const pending = new Set<Promise<PublishResult | undefined>>();
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });

  const show = (message: Message): void => {
    const key = keyOf(message.payload, message.binary);
    const count = unechoed.get(key) ?? 0;
    if (message.from === options.uid && count > 0) {
      if (count === 1) unechoed.delete(key);
      else unechoed.set(key, count - 1);
      return;
    }
    const line = options.raw ? formatRaw(message.payload, message.binary) : formatFrame(decodeFrame(message.payload, message.binary));
    stdout.write(`${line}\n`);
  };

  const send = (payload: Uint8Array, binary: boolean): void => {
    const key = keyOf(payload, binary);
    unechoed.set(key, (unechoed.get(key) ?? 0) + 1);
    const sent = client.publish(options.channel, payload, { binary, timeoutMs: 0 }).then(
      (ack) => ack,
      (error: unknown) => {
        if (error instanceof ParleyError && error.code === 'CLOSED') return undefined;
        stderr.write(`parley chat: message not sent: ${error instanceof Error ? error.message : String(error)}\n`);
        return undefined;
      },
    );
    pending.add(sent);
    void sent.finally(() => pending.delete(sent));
  };

  client.on('error', (error) => {
    stderr.write(`parley chat: ${error.message}\n`);
    // A refusal is final: the client has stopped.
    if (error.code === 'REFUSED') finish(1);
  });
  client.on('disconnected', (event) => {
    if (event.reconnectInMs === undefined) return;
    stderr.write(`${describeClose(event.code, event.reason)}; reconnecting in ${(event.reconnectInMs / 1000).toFixed(1)} s\n`);
  });
  client.on('connected', (event) => {
    if (event.reconnected) stderr.write(`reconnected to ${options.url}\n`);
  });

  try {
    await client.connect();
  } catch (error) {
    stderr.write(`parley chat: ${error instanceof Error ? error.message : String(error)}\n`);
    await client.close();
    return 1;
  }
  const subscription = client.subscribe(options.channel, {
    from: { last: options.history },
    onGap: 'skip',
    onUnknownCursor: 'restart',
  });
  subscription.on('message', show);
  subscription.on('gap', (gap) => stderr.write(`* messages ${gap.after + 1}-${gap.first - 1} were removed by the node before we got them\n`));
  subscription.on('restart', () => stderr.write('* the node no longer knows where we were (its store was reset): showing the channel from its start\n'));
  subscription.on('error', (error) => {
    stderr.write(`parley chat: ${error.message}\n`);
    finish(1);
  });

  // Said once the history is shown and live messages flow, so that what others say
  // from then on is sure to be printed.
  const live = new Promise<void>((resolve) => subscription.once('live', () => resolve()));
  const started = await Promise.race([live.then(() => true), finished.then(() => false)]);
  if (!started) {
    await client.close();
    return finished;
  }
  stderr.write(`connected to ${options.url}, joined channel ${options.channel} as ${options.uid} (native)\n`);

  const lines = createInterface({ input: stdin, crlfDelay: Infinity, terminal: false });
  lines.on('line', (line) => {
    if (options.raw) send(new TextEncoder().encode(line), false);
    else if (line !== '') send(encodeChatMessage({ uid: options.uid, channel: options.channel, message: line }), true);
  });
  lines.on('close', () => {
    // Leave once what was typed is acknowledged (bounded: the node may be gone for good).
    const timer = setTimeout(() => {
      stderr.write(`parley chat: ${pending.size} message(s) not acknowledged by the node; they may not have been delivered\n`);
      finish(1);
    }, CLOSE_TIMEOUT_MS);
    void Promise.allSettled([...pending]).then(() => {
      clearTimeout(timer);
      finish(0);
    });
  });

  const code = await finished;
  lines.close();
  await client.close();
  return code;
}

const processIo: ChatIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };

/** Runs `parley chat` with the arguments after `chat`; resolves to the exit code. */
export async function runChat(argv: string[], io: ChatIo = processIo): Promise<number> {
  const parsed = parseChatArgs(argv, io.env ?? process.env);
  switch (parsed.kind) {
    case 'help':
      io.stdout.write(CHAT_USAGE);
      return 0;
    case 'error':
      io.stderr.write(`parley chat: ${parsed.message}\nTry 'parley chat --help'.\n`);
      return 2;
    case 'run':
      return parsed.options.native ? nativeSession(parsed.options, io) : session(parsed.options, io);
  }
}
