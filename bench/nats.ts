// The NATS text protocol over WebSocket (nats-server's `websocket` listener): CONNECT with
// echo off, SUB/PUB on subject = channel, PING/PONG as the barrier. The server treats the
// WebSocket as a byte stream, so protocol lines are reassembled across frames.

import type { Adapter, BenchClient, ClientOptions } from './adapter.ts';
import { localOf } from './mles.ts';
import { FrameBatcher, PAYLOAD_SIZE } from './payload.ts';
import { Reassembler } from '../src/websocket/reassembler.ts';
import { WsConn } from './ws-client.ts';
import { OP_BINARY } from '../src/websocket/frame.ts';

export class NatsError extends Error {}

export interface NatsHandler {
  /** A MSG whose payload is `buf[at, at + len)`; its control line starts at `line`. */
  msg(buf: Buffer, at: number, len: number, line: number): void;
  ping(): void;
  pong(): void;
  /** -ERR and anything unrecognised. */
  error(line: string): void;
}

const CR = 13;
const LF = 10;

/** Parses the complete protocol messages in `buf[start, end)`; returns the offset past the last. */
export function parseNats(buf: Buffer, start: number, end: number, h: NatsHandler): number {
  let pos = start;
  while (pos < end) {
    let lf = pos;
    while (lf < end && buf[lf] !== LF) lf++;
    if (lf >= end) {
      if (end - pos > 64 * 1024) throw new NatsError('control line too long');
      break;
    }
    const lineEnd = lf > pos && buf[lf - 1] === CR ? lf - 1 : lf;
    const c0 = (buf[pos] ?? 0) | 0x20;
    if (c0 === 0x6d /* m */) {
      // MSG <subject> <sid> [reply-to] <#bytes>
      let i = lineEnd - 1;
      let size = 0;
      let scale = 1;
      while (i > pos) {
        const d = (buf[i] ?? 0) - 48;
        if (d < 0 || d > 9) break;
        size += d * scale;
        scale *= 10;
        i--;
      }
      const at = lf + 1;
      if (end - at < size + 2) break;
      h.msg(buf, at, size, pos);
      pos = at + size + 2;
      continue;
    }
    if (c0 === 0x70 /* p */) {
      if (((buf[pos + 1] ?? 0) | 0x20) === 0x69 /* i */) h.ping();
      else h.pong();
    } else if (c0 === 0x2d /* - */) {
      h.error(buf.toString('latin1', pos, lineEnd));
    } else if (c0 !== 0x69 /* i: INFO */ && c0 !== 0x2b /* +OK */) {
      h.error(`unexpected: ${buf.toString('latin1', pos, Math.min(lineEnd, pos + 80))}`);
    }
    pos = lf + 1;
  }
  return pos;
}

const PONG = Buffer.from('PONG\r\n');

export const nats: Adapter = {
  name: 'nats',
  noEcho: true,
  async connect(o: ClientOptions): Promise<BenchClient> {
    const problems: string[] = [];
    const onMessage = o.onMessage;
    const pongs: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
    let conn: WsConn | undefined;
    const handler: NatsHandler = {
      msg(buf, at, len) {
        if (len === PAYLOAD_SIZE) onMessage(buf, at);
      },
      ping() {
        conn?.send(OP_BINARY, PONG);
      },
      pong() {
        pongs.shift()?.resolve();
      },
      error(line) {
        if (problems.length < 20) problems.push(line);
        pongs.shift()?.reject(new NatsError(line));
      },
    };
    const lines = new Reassembler((buf, start, end) => parseNats(buf, start, end, handler));
    conn = await WsConn.open(
      { host: o.host, port: o.port, path: '/', protocol: 'nats', ...localOf(o) },
      {
        onFrame(_opcode, _fin, buf, start, end) {
          lines.push(buf, start, end);
        },
        onClose(code, reason) {
          problems.push(`closed ${code} ${reason}`);
          for (const p of pongs.splice(0)) p.reject(new NatsError(`connection closed ${code} ${reason}`));
        },
      },
    );
    const c = conn;
    let setup = 'CONNECT {"verbose":false,"pedantic":false,"echo":false}\r\n';
    if (o.listen !== undefined) setup += `SUB ${o.listen} 1\r\n`;
    setup += 'PING\r\n';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new NatsError('no PONG')), 10_000);
        pongs.push({
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        c.send(OP_BINARY, Buffer.from(setup));
      });
    } catch (e) {
      c.destroy();
      throw e;
    }
    return {
      conn: c,
      batcher:
        o.publish === undefined
          ? undefined
          : new FrameBatcher(OP_BINARY, Buffer.from(`PUB ${o.publish} ${PAYLOAD_SIZE}\r\n`), Buffer.from('\r\n'), o.sender),
      problems,
      close: () => c.destroy(),
    };
  },
};
