// NATS JetStream over nats-server's WebSocket listener, as the durable peer of parley's
// store: a file-backed stream over `bench.>`, publishes acknowledged by the stream (PUB
// with a reply subject that carries the publish's sequence as 8 hex digits, answered with
// `{"stream":...,"seq":...}`), and catch-up through an ephemeral push consumer that
// delivers everything stored for a subject.

import type { Adapter, BenchClient, ClientOptions } from './adapter.ts';
import { localOf } from './mles.ts';
import { NatsError, parseNats } from './nats.ts';
import type { NatsHandler } from './nats.ts';
import { FrameBatcher, PAYLOAD_SIZE, readHexSeq } from './payload.ts';
import { WsConn } from './ws-client.ts';
import { Reassembler } from '../src/websocket/reassembler.ts';
import { OP_BINARY } from '../src/websocket/frame.ts';

export const STREAM = 'BENCH';
/** parley's default retention, as far as JetStream has it: 100,000 messages per subject, 30 days. */
const STREAM_CONFIG = {
  name: STREAM,
  subjects: ['bench.>'],
  storage: 'file',
  retention: 'limits',
  discard: 'old',
  num_replicas: 1,
  max_msgs_per_subject: 100_000,
  max_age: 30 * 24 * 3600 * 1e9,
};

/** The subject of a bench channel. */
export function subjectOf(channel: string): string {
  return `bench.${channel}`;
}

/** Called for each MSG; `subject` is `buf[subjectAt, subjectEnd)`. */
export type MsgHandler = (buf: Buffer, at: number, len: number, subjectAt: number, subjectEnd: number) => void;

const SPACE = 32;

interface Waiter<T> {
  resolve(value: T): void;
  reject(e: Error): void;
}

/** A NATS connection over WebSocket with request/reply on `_R.*`. */
export class NatsConn {
  readonly conn: WsConn;
  readonly problems: string[];
  readonly #requests: Map<string, Waiter<string>>;
  readonly #pongs: Array<Waiter<void>>;
  #nextRequest = 1;

  private constructor(conn: WsConn, problems: string[], requests: Map<string, Waiter<string>>, pongs: Array<Waiter<void>>) {
    this.conn = conn;
    this.problems = problems;
    this.#requests = requests;
    this.#pongs = pongs;
  }

  /** `problems` collects -ERR lines and closes (and whatever `onMsg` adds to it). */
  static async open(o: { host: string; port: number; localAddress?: string }, onMsg: MsgHandler, problems: string[] = []): Promise<NatsConn> {
    let self: NatsConn | undefined;
    const requests = new Map<string, Waiter<string>>();
    const pongs: Array<Waiter<void>> = [];
    const handler: NatsHandler = {
      msg(buf, at, len, line) {
        const subjectAt = line + 4;
        let subjectEnd = subjectAt;
        while (subjectEnd < at && buf[subjectEnd] !== SPACE) subjectEnd++;
        if (buf[subjectAt] === 0x5f /* _ */ && buf[subjectAt + 1] === 0x52 /* R */ && buf[subjectAt + 2] === 0x2e) {
          const key = buf.toString('latin1', subjectAt, subjectEnd);
          const r = requests.get(key);
          if (r !== undefined) {
            requests.delete(key);
            r.resolve(buf.toString('utf8', at, at + len));
          }
          return;
        }
        onMsg(buf, at, len, subjectAt, subjectEnd);
      },
      ping() {
        self?.conn.send(OP_BINARY, Buffer.from('PONG\r\n'));
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
    const conn = await WsConn.open(
      { host: o.host, port: o.port, path: '/', protocol: 'nats', ...(o.localAddress === undefined ? {} : { localAddress: o.localAddress }) },
      {
        onFrame(_opcode, _fin, buf, start, end) {
          lines.push(buf, start, end);
        },
        onClose(code, reason) {
          problems.push(`closed ${code} ${reason}`);
          const e = new NatsError(`connection closed ${code} ${reason}`);
          for (const p of pongs.splice(0)) p.reject(e);
          for (const r of requests.values()) r.reject(e);
          requests.clear();
        },
      },
    );
    self = new NatsConn(conn, problems, requests, pongs);
    conn.send(OP_BINARY, Buffer.from('CONNECT {"verbose":false,"pedantic":false,"echo":false}\r\nSUB _R.* 99\r\n'));
    try {
      await self.flush();
    } catch (e) {
      conn.destroy();
      throw e;
    }
    return self;
  }

  send(text: string): void {
    this.conn.send(OP_BINARY, Buffer.from(text));
  }

  /** Resolves once the server has processed everything sent so far (PING/PONG). */
  flush(timeoutMs = 10_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new NatsError('no PONG')), timeoutMs);
      this.#pongs.push({
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.send('PING\r\n');
    });
  }

  /** Publishes `body` to `subject` and resolves with the reply's payload. */
  request(subject: string, body: string, timeoutMs = 10_000): Promise<string> {
    const key = `_R.${this.#nextRequest++}`;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#requests.delete(key);
        reject(new NatsError(`no reply to ${subject}`));
      }, timeoutMs);
      this.#requests.set(key, {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      const payload = Buffer.from(body);
      this.send(`PUB ${subject} ${key} ${payload.length}\r\n${body}\r\n`);
    });
  }

  close(): void {
    this.conn.destroy();
  }
}

/** A JetStream API reply, with its error (if any) turned into an exception. */
export function apiReply(reply: string): Record<string, unknown> {
  const value = JSON.parse(reply) as Record<string, unknown>;
  const error = value.error as { description?: string; code?: number } | undefined;
  if (error !== undefined) throw new NatsError(`JetStream: ${error.description ?? JSON.stringify(error)}`);
  return value;
}

/** Creates the bench stream unless it exists (it does after a restart). */
export async function ensureStream(host: string, port: number): Promise<void> {
  const c = await NatsConn.open({ host, port }, () => {});
  try {
    const info = JSON.parse(await c.request(`$JS.API.STREAM.INFO.${STREAM}`, '')) as Record<string, unknown>;
    if (info.error === undefined) return;
    apiReply(await c.request(`$JS.API.STREAM.CREATE.${STREAM}`, JSON.stringify(STREAM_CONFIG)));
  } finally {
    c.close();
  }
}

/**
 * Acknowledged JetStream publishers (and plain subscribers): a publisher subscribes to
 * `_A.<sender>.*` for its acks and sends `PUB <subject> _A.<sender>.<seq hex> 64`.
 */
export const jetstream: Adapter = {
  name: 'jetstream',
  noEcho: true,
  async connect(o: ClientOptions): Promise<BenchClient> {
    const onMessage = o.onMessage;
    const onAck = o.onAck;
    const problems: string[] = [];
    const c = await NatsConn.open({ host: o.host, port: o.port, ...localOf(o) }, (buf, at, len, sAt, sEnd) => {
      if (buf[sAt] === 0x5f /* _ */ && buf[sAt + 1] === 0x41 /* A */) {
        // {"stream":"BENCH","seq":N} or {"error":{...}}
        if (buf[at + 2] === 0x65 /* e */) {
          if (problems.length < 20) problems.push(buf.toString('utf8', at, at + Math.min(len, 200)));
        }
        const seq = readHexSeq(buf, sEnd - 8);
        if (seq >= 0) onAck?.(seq);
        return;
      }
      if (len === PAYLOAD_SIZE) onMessage(buf, at);
    }, problems);
    let setup = '';
    if (o.publish !== undefined) setup += `SUB _A.${o.sender}.* 2\r\n`;
    if (o.listen !== undefined) setup += `SUB ${o.listen} 1\r\n`;
    try {
      if (setup !== '') {
        c.send(setup);
        await c.flush();
      }
    } catch (e) {
      c.close();
      throw e;
    }
    let batcher: FrameBatcher | undefined;
    if (o.publish !== undefined) {
      const head = `PUB ${o.publish} _A.${o.sender}.`;
      batcher = new FrameBatcher(OP_BINARY, Buffer.from(`${head}00000000 ${PAYLOAD_SIZE}\r\n`), Buffer.from('\r\n'), o.sender, head.length);
    }
    return { conn: c.conn, batcher, problems: c.problems, close: () => c.close() };
  },
};
