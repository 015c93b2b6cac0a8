// `parley chat`: a terminal chat client for any Mles v2 node, in the spirit of a
// websocat session, or (with --native) for a parley node through the client SDK
// (src/client), which resumes after drops. Owns flag parsing and the session's
// lifetime; what frames mean and how they print lives in chat-format.ts.

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ParleyClient, ParleyError } from '../client/index.ts';
import type { Message, PublishResult } from '../client/index.ts';
import { parseMlesHeader } from '../mles/header.ts';
import { decodeFrame, describeClose, encodeChatMessage, encodeHeader, formatFrame, liveMarker, timedLine } from './chat-format.ts';
import type { ChatIo, ChatOptions } from './chat-io.ts';
import { CLOSE_TIMEOUT_MS, mlesChat } from './chat-mles.ts';
import { formatRaw } from './chat-raw.ts';

export type { ChatIo, ChatOptions } from './chat-io.ts';

/** Stored messages a native chat shows on joining, like the node's Mles replay (--limit). */
const DEFAULT_HISTORY = 200;
const MAX_HISTORY = 100_000;

export const CHAT_USAGE = `Usage: parley chat --url URL --uid NAME --channel NAME [--key MLES_KEY] [--raw]
                   [--native [--history N]]

Joins a channel on a Mles v2 node. Each line typed on stdin is sent to the channel;
every frame received is printed on its own line, with the time it was said:
  [15:04] alice: hello  a chat message
  * alice joined        a join header (replayed from history)
  [binary 42 bytes]     a frame this client cannot read (e.g. MlesTalk's encrypted CBOR)
The channel's recent history is printed first, then a line
  --- earlier messages above, new messages below ---
Mles history carries no times: its lines have none (with --native they do, and
messages from another day show the date). When the connection drops or the node
restarts, the chat reconnects by itself and does not print the history twice; lines
typed meanwhile are sent once it is back. End of input (Ctrl-D) leaves cleanly.

Options:
  --url URL         node address, ws://host:port/ or wss://host/ (http(s):// also accepted)
  --uid NAME        your name (printable ASCII)
  --channel NAME    channel to join (printable ASCII)
  --key MLES_KEY    shared key of a node that requires auth (default: env MLES_KEY)
  --raw             send lines as-is as text frames and print frames as-is, like websocat
                    (no times, no marker)
  --native          use parley's native protocol (parley.v1) instead of Mles: the client
                    resumes exactly where it was after a reconnect, and every line is
                    acknowledged by the node (stored once, even when re-sent after a
                    reconnect)
  --history N       with --native: stored messages shown on joining (default ${DEFAULT_HISTORY})
  -h, --help        show this help

Messages are sent as binary frames of UTF-8 JSON {"uid","channel","message"}, the same
format as the node's web chat page, so the two can talk to each other; native and Mles
chats on the same channel see each other's lines. A native chat shows no join lines
(the native protocol has no join headers) and does not print your own lines back.

Exit status: 0 after end of input, 1 when the node refuses the connection (the close
code and reason, and what to do, are printed on stderr), when it cannot be reached at
first, or when lines typed at the end could not be sent; 2 for bad flags.
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
  /** Whether the history is over (the live marker printed), and whether it had lines. */
  let live = false;
  let historyShown = false;
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
    if (options.raw) {
      stdout.write(`${formatRaw(message.payload, message.binary)}\n`);
      return;
    }
    if (!live) historyShown = true;
    stdout.write(`${timedLine(formatFrame(decodeFrame(message.payload, message.binary)), message.ts, Date.now())}\n`);
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
  const wentLive = new Promise<void>((resolve) =>
    subscription.once('live', () => {
      live = true;
      if (!options.raw) stdout.write(`${liveMarker(historyShown)}\n`);
      resolve();
    }),
  );
  const started = await Promise.race([wentLive.then(() => true), finished.then(() => false)]);
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
      return parsed.options.native ? nativeSession(parsed.options, io) : mlesChat(parsed.options, io);
  }
}
