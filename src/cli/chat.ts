// `parley chat`: a terminal chat client for any Mles v2 node, in the spirit of a
// websocat session. Owns flag parsing and the connection's lifetime; what frames mean
// and how they print lives in chat-format.ts.

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { RawData } from 'ws';
import { mlesAuth } from '../protocol/mles-auth.ts';
import { parseMlesHeader } from '../protocol/mles-header.ts';
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
}

export const CHAT_USAGE = `Usage: parley chat --url URL --uid NAME --channel NAME [--key MLES_KEY] [--raw]

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
  -h, --help        show this help

Messages are sent as binary frames of UTF-8 JSON {"uid","channel","message"}, the same
format as the node's web chat page, so the two can talk to each other.

Exit status: 0 after end of input, 1 when the node closes or refuses the connection
(the close code and reason are printed on stderr), 2 for bad flags.
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
  return {
    kind: 'run',
    options: { url, uid, channel, key: values.key ?? env.MLES_KEY, raw: values.raw },
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
      return session(parsed.options, io);
  }
}
