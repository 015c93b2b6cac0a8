import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT } from './frame.ts';
import { WsReader } from './reader.ts';

const KEY = Uint8Array.from([1, 2, 3, 4]);
const masked = (opcode: number, payload: string | Buffer, fin = true) => encodeFrame(opcode, Buffer.from(payload), KEY, fin);
const closePayload = (code: number, reason = '') => Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);

/** Feeds bytes to a reader in the given pieces and records every event as a string. */
function read(bytes: Buffer, cuts: number[] = [], maxMessage = 1000): string[] {
  const events: string[] = [];
  const reader = new WsReader(
    {
      message: (buf, start, end, binary) => events.push(`${binary ? 'binary' : 'text'}:${buf.toString('utf8', start, end)}`),
      ping: (p) => events.push(`ping:${p.toString()}`),
      pong: (p) => events.push(`pong:${p.toString()}`),
      close: (code, reason) => events.push(`close:${code}:${reason}`),
      fail: (code, reason) => events.push(`fail:${code}:${reason}`),
    },
    maxMessage,
  );
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    reader.push(Buffer.from(bytes.subarray(at, cut))); // a fresh chunk, as a socket gives
    at = cut;
  }
  return events;
}

const stream = Buffer.concat([
  masked(OP_TEXT, 'hello'),
  masked(OP_BINARY, Buffer.alloc(300, 0x61)),
  masked(OP_PING, 'p'),
  masked(OP_TEXT, 'frag', false),
  masked(OP_PONG, 'q'), // control frames may come between fragments
  masked(OP_CONTINUATION, 'ment', false),
  masked(OP_CONTINUATION, 'ed', true),
  masked(OP_CLOSE, closePayload(1000, 'bye')),
  masked(OP_TEXT, 'after close is ignored'),
]);
const expected = ['text:hello', `binary:${'a'.repeat(300)}`, 'ping:p', 'pong:q', 'text:fragmented', 'close:1000:bye'];

test('reads messages, fragments and control frames', () => {
  assert.deepEqual(read(stream), expected);
});

test('gives the same events however the bytes are split', () => {
  for (let cut = 1; cut < stream.length; cut++) assert.deepEqual(read(stream, [cut]), expected, `cut at ${cut}`);
  const everyByte = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(read(stream, everyByte), expected);
});

test('an empty close frame has no code', () => {
  assert.deepEqual(read(masked(OP_CLOSE, '')), ['close:undefined:']);
});

test('refuses protocol violations with the RFC close code', () => {
  const cases: Array<[Buffer, string]> = [
    [encodeFrame(OP_TEXT, Buffer.from('x')), 'fail:1002:client frames must be masked'],
    [Buffer.concat([Buffer.from([0xc1, 0x80]), Buffer.from(KEY)]), 'fail:1002:reserved bits set'],
    [masked(0x3, 'x'), 'fail:1002:unknown opcode'],
    [masked(0xb, 'x'), 'fail:1002:unknown opcode'],
    [masked(OP_PING, 'x', false), 'fail:1002:bad control frame'],
    [masked(OP_PING, Buffer.alloc(126)), 'fail:1002:bad control frame'],
    [masked(OP_CONTINUATION, 'x'), 'fail:1002:unexpected continuation frame'],
    [Buffer.concat([masked(OP_TEXT, 'a', false), masked(OP_TEXT, 'b')]), 'fail:1002:expected a continuation frame'],
    [masked(OP_TEXT, Buffer.from([0xff, 0xfe])), 'fail:1007:invalid UTF-8 in text frame'],
    [masked(OP_BINARY, Buffer.alloc(1001)), 'fail:1009:frame too big'],
    [Buffer.concat([masked(OP_BINARY, Buffer.alloc(600), false), masked(OP_CONTINUATION, Buffer.alloc(600))]), 'fail:1009:message too big'],
    [masked(OP_CLOSE, Buffer.from([3])), 'fail:1002:bad close frame'],
    [masked(OP_CLOSE, closePayload(1005)), 'fail:1002:invalid close code'],
    [masked(OP_CLOSE, closePayload(999)), 'fail:1002:invalid close code'],
    [masked(OP_CLOSE, Buffer.concat([closePayload(1000), Buffer.from([0xc3])])), 'fail:1007:invalid UTF-8 in close reason'],
  ];
  for (const [bytes, event] of cases) {
    assert.deepEqual(read(Buffer.concat([bytes, masked(OP_TEXT, 'never read')])), [event], event);
  }
});

test('a text message split inside a UTF-8 character is still valid', () => {
  const euro = Buffer.from('€'); // three bytes
  const bytes = Buffer.concat([masked(OP_TEXT, euro.subarray(0, 1), false), masked(OP_CONTINUATION, euro.subarray(1))]);
  assert.deepEqual(read(bytes), ['text:€']);
});
