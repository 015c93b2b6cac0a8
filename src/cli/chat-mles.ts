// `parley chat` over Mles v2: joins one channel, prints what arrives, sends what is
// typed, and stays in the channel across drops and node restarts. Mles has no cursor:
// the node replays the channel's recent history on every join, so after a reconnect
// the frames already printed are recognised (chat-replay.ts) and skipped. Lines typed
// while the connection is down wait and are sent, in order, once it is back. The node
// refusing the header (44xx) is final: the same header would be refused again.

import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import type { RawData } from 'ws';
import { mlesAuth } from '../access/auth.ts';
import { headerForReplay } from '../mles/header.ts';
import { Backoff } from '../timing/backoff.ts';
import type { ChatIo, ChatOptions } from './chat-io.ts';
import { decodeFrame, describeClose, encodeChatMessage, encodeHeader, formatFrame, isRefusal, liveMarker, timedLine } from './chat-format.ts';
import { formatRaw } from './chat-raw.ts';
import { frameKey, ReplayFilter } from './chat-replay.ts';

/** How long leaving may wait: for the node's close frame, or for a reconnect that sends what waits. */
export const CLOSE_TIMEOUT_MS = 5000;
/** Quiet time after which a reconnect's history replay is taken to be over. */
const REPLAY_QUIET_MS = 1500;
/**
 * Quiet time after the first join (or its last replayed frame) after which the history
 * is taken to be over and the live marker printed. The node sends the replay in one
 * burst as it accepts the header; Mles does not say where it ends.
 */
const LIVE_QUIET_MS = 300;
/** The same before the first frame: the node may take a moment to read the history. */
const LIVE_FIRST_MS = 1000;

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

/** What to do about a refusal, in words. */
function refusalAdvice(code: number, options: ChatOptions): string | undefined {
  switch (code) {
    case 4409:
      return `parley chat: the name ${options.uid} is already in channel ${options.channel}; choose another --uid`;
    case 4401:
      return "parley chat: the node requires a key: pass the node's MLES_KEY with --key (or in MLES_KEY)";
    case 4429:
      return 'parley chat: the node is busy or this address connected too often; wait a minute and try again';
    default:
      return undefined;
  }
}

export function mlesChat(options: ChatOptions, io: ChatIo): Promise<number> {
  const { stdin, stdout, stderr } = io;
  const auth = options.key === undefined ? undefined : mlesAuth(options.uid, options.channel, options.key);
  const header = encodeHeader(options.uid, options.channel, auth);
  // Our header as the node replays it to later joiners, us included after a reconnect.
  const replayedHeaderKey = frameKey(Buffer.from(headerForReplay(header)), false);
  const seen = new ReplayFilter();
  const backoff = new Backoff();
  /** Typed while the connection was down. */
  const waiting: Array<{ data: Uint8Array | string; binary: boolean }> = [];

  return new Promise<number>((resolve) => {
    let ws: WebSocket | undefined;
    let everOpened = false;
    let openedAt = 0;
    /** End of input: leave once what waits is sent. */
    let leaving = false;
    let finished = false;
    /** Until the first join's history is over: lines are printed without a time. */
    let inHistory = true;
    let historyShown = false;
    let liveTimer: ReturnType<typeof setTimeout> | undefined;
    let replayTimer: ReturnType<typeof setTimeout> | undefined;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let leaveTimer: ReturnType<typeof setTimeout> | undefined;
    const lines = createInterface({ input: stdin, crlfDelay: Infinity, terminal: false });

    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      for (const timer of [liveTimer, replayTimer, retryTimer, leaveTimer]) clearTimeout(timer);
      lines.close();
      if (ws !== undefined && ws.readyState !== WebSocket.CLOSED) ws.terminate();
      resolve(code);
    };

    const open = (): boolean => ws !== undefined && ws.readyState === WebSocket.OPEN;

    const sendFrame = (data: Uint8Array | string, binary: boolean): void => {
      ws!.send(data, { binary });
      seen.remember(frameKey(typeof data === 'string' ? Buffer.from(data) : data, binary));
    };

    const leave = (): void => {
      clearTimeout(leaveTimer);
      if (open()) {
        ws!.close(1000, 'bye');
        // No close frame back in time: the close is then unclean (1006), reported, exit 1.
        leaveTimer = setTimeout(() => ws?.terminate(), CLOSE_TIMEOUT_MS);
        return;
      }
      if (waiting.length === 0) return finish(0);
      // Give the connection a moment to come back and take what was typed.
      leaveTimer = setTimeout(() => {
        stderr.write(`parley chat: ${waiting.length} line(s) not sent: the node could not be reached\n`);
        finish(1);
      }, CLOSE_TIMEOUT_MS);
    };

    lines.on('line', (line) => {
      const frame = options.raw
        ? { data: line, binary: false }
        : line === ''
          ? undefined
          : { data: encodeChatMessage({ uid: options.uid, channel: options.channel, message: line }), binary: true };
      if (frame === undefined) return;
      if (open()) sendFrame(frame.data, frame.binary);
      else waiting.push(frame);
    });
    lines.on('close', () => {
      if (finished || leaving) return;
      leaving = true;
      // Before the first join, whether the node can be reached at all decides the exit.
      if (everOpened) leave();
    });

    const markLiveSoon = (quietMs: number): void => {
      if (!inHistory) return;
      clearTimeout(liveTimer);
      liveTimer = setTimeout(() => {
        inHistory = false;
        if (!options.raw) stdout.write(`${liveMarker(historyShown)}\n`);
      }, quietMs);
    };

    const connect = (): void => {
      const socket = new WebSocket(options.url, 'mles-websocket');
      ws = socket;
      // Set when stderr already says why this attempt failed, so its close is not reported twice.
      let failureShown = false;

      socket.on('unexpected-response', (_request, response) => {
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
          socket.terminate();
        });
      });

      socket.on('open', () => {
        socket.send(header);
        openedAt = Date.now();
        if (everOpened) {
          stderr.write(`reconnected to ${options.url}\n`);
          seen.startReplay();
          clearTimeout(replayTimer);
          replayTimer = setTimeout(() => seen.endReplay(), REPLAY_QUIET_MS);
        } else {
          stderr.write(`connected to ${options.url}, joining channel ${options.channel} as ${options.uid}\n`);
          markLiveSoon(LIVE_FIRST_MS);
        }
        everOpened = true;
        // Replayed to us on the next join, as our earlier headers are now.
        seen.remember(replayedHeaderKey);
        for (const frame of waiting.splice(0)) sendFrame(frame.data, frame.binary);
        if (leaving) leave();
      });

      socket.on('message', (data, isBinary) => {
        if (socket !== ws) return;
        const bytes = toBytes(data);
        markLiveSoon(LIVE_QUIET_MS);
        if (seen.seenBefore(frameKey(bytes, isBinary))) {
          clearTimeout(replayTimer);
          replayTimer = setTimeout(() => seen.endReplay(), REPLAY_QUIET_MS);
          return;
        }
        if (options.raw) {
          stdout.write(`${formatRaw(bytes, isBinary)}\n`);
          return;
        }
        if (inHistory) historyShown = true;
        const ts = inHistory || seen.replaying ? undefined : Date.now();
        stdout.write(`${timedLine(formatFrame(decodeFrame(bytes, isBinary)), ts, Date.now())}\n`);
      });

      socket.on('error', (error) => {
        if (failureShown) return;
        // Once in the channel, failed attempts to come back are told by the close line.
        if (everOpened) return;
        stderr.write(`parley chat: ${error.message}\n`);
        failureShown = true;
      });

      socket.on('close', (code, reasonBytes) => {
        if (socket !== ws || finished) return;
        const reason = reasonBytes.toString('utf8');
        const wasOpen = openedAt > 0;
        if (wasOpen) backoff.connectionEnded(Date.now() - openedAt);
        openedAt = 0;
        clearTimeout(liveTimer);
        inHistory = false;
        seen.endReplay();
        if (leaving && waiting.length === 0) {
          if (code === 1000 || code === 1005) return finish(0);
          stderr.write(`${describeClose(code, reason)}\n`);
          return finish(1);
        }
        if (isRefusal(code)) {
          stderr.write(`${describeClose(code, reason)}\n`);
          const advice = refusalAdvice(code, options);
          if (advice !== undefined) stderr.write(`${advice}\n`);
          return finish(1);
        }
        if (!everOpened) {
          // The node could not be reached at all: most likely a wrong --url.
          if (!failureShown) stderr.write(`${describeClose(code, reason)}\n`);
          return finish(1);
        }
        const delay = backoff.next();
        stderr.write(`${describeClose(code, reason)}; reconnecting in ${(delay / 1000).toFixed(1)} s\n`);
        retryTimer = setTimeout(connect, delay);
      });
    };

    connect();
  });
}
