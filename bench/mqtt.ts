// MQTT 3.1.1 over WebSocket (subprotocol `mqtt`), QoS 0, topic = channel. The broker treats
// the WebSocket as a byte stream, so packets are reassembled across frame boundaries.
// A subscriber gets its own publications back, so publishers use topics they are not
// subscribed to (`noEcho: false`).

import type { Adapter, BenchClient, ClientOptions } from './adapter.ts';
import { localOf } from './mles.ts';
import { FrameBatcher, PAYLOAD_SIZE } from './payload.ts';
import { Reassembler } from '../src/websocket/reassembler.ts';
import { WsConn } from './ws-client.ts';
import { OP_BINARY } from '../src/websocket/frame.ts';

export const CONNECT = 1;
export const CONNACK = 2;
export const PUBLISH = 3;
export const SUBSCRIBE = 8;
export const SUBACK = 9;

export class MqttError extends Error {}

export type PacketHandler = (type: number, flags: number, buf: Buffer, start: number, end: number) => void;

export function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

function packet(type: number, flags: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(type << 4) | flags, ...remainingLength(body.length)]), body]);
}

export function connectPacket(clientId: string): Buffer {
  // Protocol "MQTT", level 4, clean session, keep-alive 0 (off).
  return packet(CONNECT, 0, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 0]), str(clientId)]));
}

export function subscribePacket(packetId: number, topic: string): Buffer {
  const id = Buffer.allocUnsafe(2);
  id.writeUInt16BE(packetId, 0);
  return packet(SUBSCRIBE, 0x2, Buffer.concat([id, str(topic), Buffer.from([0])]));
}

/** The bytes of a QoS 0 PUBLISH that precede a 64-byte payload. */
export function publishPrefix(topic: string): Buffer {
  const t = str(topic);
  return Buffer.concat([Buffer.from([(PUBLISH << 4) | 0, ...remainingLength(t.length + PAYLOAD_SIZE)]), t]);
}

/** Parses the complete MQTT packets in `buf[start, end)`; returns the offset past the last. */
export function parsePackets(buf: Buffer, start: number, end: number, onPacket: PacketHandler): number {
  let pos = start;
  while (end - pos >= 2) {
    const b0 = buf[pos] ?? 0;
    let len = 0;
    let mul = 1;
    let p = pos + 1;
    let complete = false;
    for (let i = 0; i < 4 && p < end; i++) {
      const b = buf[p++] ?? 0;
      len += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) {
        complete = true;
        break;
      }
    }
    if (!complete) {
      if (p - pos > 4) throw new MqttError('malformed remaining length');
      break;
    }
    if (end - p < len) break;
    pos = p + len;
    onPacket(b0 >> 4, b0 & 0x0f, buf, p, pos);
  }
  return pos;
}

export const mqtt: Adapter = {
  name: 'mqtt',
  noEcho: false,
  async connect(o: ClientOptions): Promise<BenchClient> {
    const problems: string[] = [];
    const onMessage = o.onMessage;
    let waiting: { type: number; resolve: (ok: number) => void; reject: (e: Error) => void } | undefined;
    const onPacket: PacketHandler = (type, flags, buf, start, end) => {
      if (type === PUBLISH) {
        const topicLen = buf.readUInt16BE(start);
        const at = start + 2 + topicLen + (((flags >> 1) & 3) > 0 ? 2 : 0);
        if (end - at === PAYLOAD_SIZE) onMessage(buf, at);
        return;
      }
      if (waiting !== undefined && waiting.type === type) {
        const w = waiting;
        waiting = undefined;
        // CONNACK: return code in byte 1; SUBACK: granted QoS (0x80 = failure) in byte 2.
        w.resolve(type === CONNACK ? (buf[start + 1] ?? 255) : (buf[start + 2] ?? 255));
      }
    };
    const packets = new Reassembler((buf, start, end) => parsePackets(buf, start, end, onPacket));
    const conn = await WsConn.open(
      { host: o.host, port: o.port, path: '/mqtt', protocol: 'mqtt', ...localOf(o) },
      {
        onFrame(_opcode, _fin, buf, start, end) {
          packets.push(buf, start, end);
        },
        onClose(code, reason) {
          problems.push(`closed ${code} ${reason}`);
          waiting?.reject(new MqttError(`connection closed ${code} ${reason}`));
          waiting = undefined;
        },
      },
    );
    const expect = (type: number, send: Buffer): Promise<number> =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new MqttError(`no reply of type ${type}`)), 10_000);
        waiting = {
          type,
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        conn.send(OP_BINARY, send);
      });
    try {
      const rc = await expect(CONNACK, connectPacket(o.uid));
      if (rc !== 0) throw new MqttError(`CONNACK return code ${rc}`);
      if (o.listen !== undefined) {
        const granted = await expect(SUBACK, subscribePacket(1, o.listen));
        if (granted === 0x80) throw new MqttError(`subscription to ${o.listen} refused`);
      }
    } catch (e) {
      conn.destroy();
      throw e;
    }
    return {
      conn,
      batcher:
        o.publish === undefined
          ? undefined
          : new FrameBatcher(OP_BINARY, publishPrefix(o.publish), new Uint8Array(0), o.sender),
      problems,
      close: () => conn.destroy(),
    };
  },
};
