// Unit tests for the benchmark's WebSocket frame codec and stream reassembly (bench/).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketOf, bucketValue, LatencyHistogram } from '../bench/hist.ts';
import { connectPacket, parsePackets, publishPrefix, PUBLISH } from '../bench/mqtt.ts';
import { parseNats } from '../bench/nats.ts';
import {
  ackDuplicate,
  ackSeq,
  cborText,
  findKey,
  flatMapEnd,
  FRAME_ACK,
  FRAME_MSG,
  FRAME_OTHER,
  frameKind,
  msgPayloadAt,
  pubBatcher,
  skipItem,
} from '../bench/native.ts';
import {
  FrameBatcher,
  makePayload,
  PAYLOAD_SIZE,
  payloadSender,
  payloadSeq,
  payloadTime,
  readHexSeq,
  writeHexSeq,
} from '../bench/payload.ts';
import { decodeClientFrame, encodeFrame as encodeNativeFrame, encodeMap } from '../src/native/frames.ts';
import { Reassembler } from '../src/websocket/reassembler.ts';
import { acceptKey } from '../src/websocket/handshake.ts';
import {
  encodeFrame,
  FrameError,
  headerLength,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_TEXT,
  parseFrames,
} from '../src/websocket/frame.ts';

interface Decoded {
  opcode: number;
  fin: boolean;
  payload: Buffer;
}

const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** Decodes `bytes` fed to a Reassembler in the given pieces. Works on a copy. */
function decodePieces(bytes: Buffer, cuts: readonly number[]): Decoded[] {
  const out: Decoded[] = [];
  const r = new Reassembler((buf, start, end) =>
    parseFrames(buf, start, end, (opcode, fin, b, s, e) => {
      out.push({ opcode, fin, payload: Buffer.from(b.subarray(s, e)) });
    }),
  );
  const copy = Buffer.from(bytes);
  let at = 0;
  for (const cut of [...cuts, copy.length]) {
    // Each piece in its own buffer with junk around it, like a shared read buffer.
    const piece = Buffer.alloc(cut - at + 8, 0xee);
    copy.copy(piece, 4, at, cut);
    r.push(piece, 4, 4 + cut - at);
    at = cut;
  }
  assert.equal(r.pending, 0, 'no bytes left over');
  return out;
}

function sample(): { bytes: Buffer; frames: Decoded[] } {
  const frames: Decoded[] = [
    { opcode: OP_TEXT, fin: true, payload: Buffer.from('{"uid":"u1","channel":"c1"}') },
    { opcode: OP_BINARY, fin: true, payload: makePayload(12.5, 7, 3) },
    { opcode: OP_BINARY, fin: true, payload: Buffer.alloc(0) },
    { opcode: OP_BINARY, fin: false, payload: Buffer.alloc(126, 1) },
    { opcode: 0, fin: true, payload: Buffer.alloc(300, 2) },
    { opcode: OP_PING, fin: true, payload: Buffer.from('x') },
    { opcode: OP_CLOSE, fin: true, payload: Buffer.from([0x03, 0xe8]) },
  ];
  const bytes = Buffer.concat(
    frames.map((f, i) => encodeFrame(f.opcode, f.payload, i % 2 === 0 ? KEY : undefined, f.fin)),
  );
  return { bytes, frames };
}

describe('bench ws-frame codec', () => {
  it('encodes headers of each length class', () => {
    assert.equal(headerLength(125, false), 2);
    assert.equal(headerLength(126, false), 4);
    assert.equal(headerLength(65535, true), 8);
    assert.equal(headerLength(65536, true), 14);
    const small = encodeFrame(OP_BINARY, Buffer.from([1, 2, 3]));
    assert.deepEqual([...small], [0x82, 3, 1, 2, 3]);
    const masked = encodeFrame(OP_TEXT, Buffer.from('ab'), KEY);
    assert.deepEqual([...masked], [0x81, 0x82, ...KEY, 0x61 ^ 0x37, 0x62 ^ 0xfa]);
  });

  it('round-trips frames of every length class, masked and not', () => {
    for (const len of [0, 1, 3, 4, 5, 125, 126, 127, 65535, 65536, 70001]) {
      for (const key of [undefined, KEY]) {
        const payload = Buffer.alloc(len);
        for (let i = 0; i < len; i++) payload[i] = (i * 31) & 0xff;
        const original = Buffer.from(payload);
        const frame = encodeFrame(OP_BINARY, payload, key);
        assert.deepEqual(payload, original, 'encoding does not modify the payload');
        const got = decodePieces(frame, []);
        assert.equal(got.length, 1);
        assert.equal(got[0]?.opcode, OP_BINARY);
        assert.deepEqual(got[0]?.payload, original, `length ${len}, masked ${key !== undefined}`);
      }
    }
  });

  it('decodes a stream split at every byte boundary', () => {
    const { bytes, frames } = sample();
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(decodePieces(bytes, [cut]), frames, `split at ${cut}`);
    }
  });

  it('decodes a stream fed one byte at a time', () => {
    const { bytes, frames } = sample();
    const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(decodePieces(bytes, cuts), frames);
  });

  it('decodes a stream split at every pair of boundaries', () => {
    const { bytes, frames } = sample();
    for (let a = 1; a < bytes.length; a += 7) {
      for (let b = a; b <= bytes.length; b += 5) {
        assert.deepEqual(decodePieces(bytes, [a, b]), frames, `split at ${a}, ${b}`);
      }
    }
  });

  it('rejects reserved bits and oversized frames', () => {
    const bad = Buffer.from([0xc2, 0x00]);
    assert.throws(() => parseFrames(bad, 0, 2, () => {}), FrameError);
    const big = encodeFrame(OP_BINARY, Buffer.alloc(200));
    assert.throws(() => parseFrames(big, 0, big.length, () => {}, 100), FrameError);
  });

  it('computes the RFC 6455 accept key', () => {
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});

describe('bench FrameBatcher', () => {
  it('builds masked frames with the time, consecutive sequence numbers and sender', () => {
    const before = publishPrefix('c1');
    const batcher = new FrameBatcher(OP_BINARY, before, Buffer.from('\r\n'), 42);
    const batch = batcher.build(5, 1234.5678, 0xfffffffe);
    assert.equal(batch.length, 5 * batcher.frameLength);
    const frames = decodePieces(batch, [3, 100, 101]);
    assert.equal(frames.length, 5);
    frames.forEach((f, i) => {
      assert.equal(f.opcode, OP_BINARY);
      assert.equal(f.payload.length, before.length + PAYLOAD_SIZE + 2);
      assert.deepEqual(f.payload.subarray(0, before.length), before);
      const at = before.length;
      assert.equal(payloadTime(f.payload, at), 1234.5678);
      assert.equal(payloadSeq(f.payload, at), (0xfffffffe + i) >>> 0);
      assert.equal(payloadSender(f.payload, at), 42);
      assert.equal(f.payload.toString('latin1', f.payload.length - 2), '\r\n');
    });
  });
});

describe('bench FrameBatcher with a hex sequence', () => {
  it('writes and reads 8 hex digits', () => {
    const b = Buffer.alloc(10);
    for (const v of [0, 1, 0xabcdef, 0xfffffffe, 0xffffffff]) {
      writeHexSeq(b, 1, v);
      assert.equal(b.toString('latin1', 1, 9), v.toString(16).padStart(8, '0'));
      assert.equal(readHexSeq(b, 1), v);
    }
    assert.equal(readHexSeq(Buffer.from('0000000g'), 0), -1);
  });

  it('builds native pub frames the node decodes, with the sequence as the client message id', () => {
    const batcher = pubBatcher('a channel', 7);
    const frames = decodePieces(batcher.build(4, 99.5, 0xfffffffe), [5, 200]);
    assert.equal(frames.length, 4);
    frames.forEach((f, i) => {
      const seq = (0xfffffffe + i) >>> 0;
      const decoded = decodeClientFrame(f.payload);
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error);
      const frame = decoded.frame;
      assert.equal(frame.t, 'pub');
      if (frame.t !== 'pub') return;
      assert.equal(frame.ch, 'a channel');
      assert.equal(frame.cid, seq.toString(16).padStart(8, '0'));
      assert.equal(frame.bin, true);
      assert.equal(frame.p.length, PAYLOAD_SIZE);
      const p = Buffer.from(frame.p);
      assert.equal(payloadSeq(p, 0), seq);
      assert.equal(payloadSender(p, 0), 7);
      assert.equal(payloadTime(p, 0), 99.5);
    });
  });

  it('stamps the sequence into a NATS reply subject', () => {
    const head = 'PUB bench.c0 _A.3.';
    const batcher = new FrameBatcher(OP_BINARY, Buffer.from(`${head}00000000 64\r\n`), Buffer.from('\r\n'), 3, head.length);
    const frames = decodePieces(batcher.build(3, 1, 0x1f), []);
    assert.deepEqual(
      frames.map((f) => f.payload.toString('latin1', 0, head.length + 11)),
      ['PUB bench.c0 _A.3.0000001f 64', 'PUB bench.c0 _A.3.00000020 64', 'PUB bench.c0 _A.3.00000021 64'],
    );
  });

  it('refuses a hex sequence that would overwrite the message', () => {
    assert.throws(() => new FrameBatcher(OP_BINARY, Buffer.from('abc'), Buffer.alloc(0), 0, 0), RangeError);
  });
});

describe('bench native frame readers', () => {
  const id = Buffer.alloc(32, 0xab);
  const payload = makePayload(5, 1234, 9);
  const msg = encodeNativeFrame({ t: 'msg', ch: 'c1', seq: 1235, id, ts: Date.now(), from: 'u', o: 'node', bin: true, p: payload });
  const ack = (dup: boolean) => encodeNativeFrame({ t: 'ack', ch: 'c1', cid: '000004d2', seq: 1235, id, ts: Date.now(), dup });

  it('recognises msg and ack frames and reads them in place', () => {
    assert.equal(frameKind(msg, 0, msg.length), FRAME_MSG);
    const at = msgPayloadAt(msg, 0, msg.length);
    assert.equal(payloadSeq(msg, at), 1234);
    assert.equal(payloadSender(msg, at), 9);
    for (const dup of [false, true]) {
      const a = ack(dup);
      assert.equal(frameKind(a, 0, a.length), FRAME_ACK);
      assert.equal(ackSeq(a, 0, a.length), 0x4d2);
      assert.equal(ackDuplicate(a, 0, a.length), dup);
    }
    const live = encodeNativeFrame({ t: 'live', ch: 'c1', last: 3 });
    assert.equal(frameKind(live, 0, live.length), FRAME_OTHER);
  });

  it('finds the payload of a msg whatever the key order, inside a larger buffer', () => {
    const reordered = encodeMap({ p: payload, t: 'msg', ch: 'c1', seq: 1, id, ts: 1.5, from: 'u', o: 'n', bin: true });
    const buf = Buffer.concat([Buffer.alloc(3, 0xff), reordered, Buffer.alloc(5, 0xff)]);
    const start = 3;
    const end = 3 + reordered.length;
    assert.equal(frameKind(buf, start, end), FRAME_OTHER, 't is not the first key: left to the slow path');
    const at = msgPayloadAt(buf, start, end);
    assert.equal(payloadSeq(buf, at), 1234);
    const short = encodeNativeFrame({ t: 'msg', ch: 'c1', seq: 1, id, ts: 1, from: 'u', o: 'n', bin: true, p: Buffer.alloc(10) });
    assert.equal(msgPayloadAt(short, 0, short.length), -1);
  });

  it('finds where each frame of a CBOR sequence ends, the flat way or through skipItem', () => {
    const live = encodeNativeFrame({ t: 'live', ch: 'c1', last: 3 });
    const sequence = Buffer.concat([msg, ack(false), live, msg]);
    const ends: number[] = [];
    for (let at = 0; at < sequence.length; ) {
      const flat = flatMapEnd(sequence, at, sequence.length);
      assert.equal(flat, skipItem(sequence, at, sequence.length));
      ends.push((at = flat));
    }
    assert.deepEqual(ends, [msg.length, msg.length + ack(false).length, sequence.length - msg.length, sequence.length]);
    const nested = encodeMap({ t: 'page', msgs: [{ a: 1 }] });
    assert.equal(flatMapEnd(nested, 0, nested.length), -1, 'nested items are left to skipItem');
    assert.equal(flatMapEnd(msg, 0, msg.length - 1), -1, 'truncated');
  });

  it('skips every kind of CBOR item and finds keys', () => {
    const value = encodeMap({ a: [1, -1, 300, 70000, 2 ** 40, 1.5, 'x'.repeat(300), null, true, { b: new Uint8Array(30) }], k: 'v' });
    assert.equal(skipItem(value, 0, value.length), value.length);
    assert.equal(skipItem(value, 0, value.length - 1), -1, 'truncated');
    const v = findKey(value, 0, value.length, cborText('k'));
    assert.deepEqual([...value.subarray(v, v + 2)], [0x61, 0x76]);
    assert.equal(findKey(value, 0, value.length, cborText('zz')), -1);
  });
});

describe('bench protocol stream parsers', () => {
  it('reassembles MQTT packets split at every byte boundary', () => {
    const payload = makePayload(1, 2, 3);
    const stream = Buffer.concat([
      Buffer.from([0x20, 0x02, 0x00, 0x00]), // CONNACK
      publishPrefix('c1'),
      payload,
      connectPacket('x'.repeat(200)), // remaining length over two bytes
      publishPrefix('topic/2'),
      payload,
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const seen: string[] = [];
      const r = new Reassembler((buf, s, e) =>
        parsePackets(buf, s, e, (type, _flags, b, ps, pe) => {
          if (type === PUBLISH) {
            const tl = b.readUInt16BE(ps);
            seen.push(`${b.toString('latin1', ps + 2, ps + 2 + tl)}:${payloadSeq(b, ps + 2 + tl)}:${pe - ps - 2 - tl}`);
          } else {
            seen.push(`type${type}:${pe - ps}`);
          }
        }),
      );
      r.push(Buffer.from(stream.subarray(0, cut)), 0, cut);
      r.push(Buffer.from(stream.subarray(cut)), 0, stream.length - cut);
      assert.deepEqual(seen, ['type2:2', 'c1:2:64', 'type1:212', 'topic/2:2:64'], `split at ${cut}`);
    }
  });

  it('reassembles NATS protocol lines and payloads split at every byte boundary', () => {
    const payload = makePayload(1, 9, 3);
    const stream = Buffer.concat([
      Buffer.from('INFO {"server_id":"x"}\r\nPING\r\nMSG c1 1 64\r\n'),
      payload,
      Buffer.from('\r\n+OK\r\nMSG c1 1 reply.to 64\r\n'),
      payload,
      Buffer.from('\r\nPONG\r\n-ERR \'boom\'\r\n'),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const seen: string[] = [];
      const r = new Reassembler((buf, s, e) =>
        parseNats(buf, s, e, {
          msg: (b, at, len) => seen.push(`msg:${payloadSeq(b, at)}:${len}`),
          ping: () => seen.push('ping'),
          pong: () => seen.push('pong'),
          error: (line) => seen.push(line),
        }),
      );
      r.push(Buffer.from(stream.subarray(0, cut)), 0, cut);
      r.push(Buffer.from(stream.subarray(cut)), 0, stream.length - cut);
      assert.deepEqual(seen, ['ping', 'msg:9:64', 'msg:9:64', 'pong', "-ERR 'boom'"], `split at ${cut}`);
    }
  });
});

describe('bench latency histogram', () => {
  it('keeps bucket values within 3% and reports percentiles', () => {
    for (const v of [0, 1, 63, 64, 100, 1000, 12_345, 1e6, 2 ** 30]) {
      const back = bucketValue(bucketOf(v));
      assert.ok(Math.abs(back - v) <= Math.max(0.5, v * 0.032), `${v} -> ${back}`);
    }
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i);
    const s = h.summary();
    assert.equal(s.count, 1000);
    assert.ok(Math.abs(s.p50Us - 500) / 500 < 0.04, `p50 ${s.p50Us}`);
    assert.ok(Math.abs(s.p99Us - 990) / 990 < 0.04, `p99 ${s.p99Us}`);
    assert.equal(s.maxUs, 1000);
  });
});
