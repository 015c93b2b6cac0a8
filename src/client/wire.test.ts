import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNodeFrames, encodeFrame } from '../native/frames.ts';
import { toMessage } from './wire.ts';

test('a message of a msg frame, under the names the application sees', () => {
  const p = new Uint8Array([1, 2]);
  const id = new Uint8Array(32);
  const decoded = decodeNodeFrames(encodeFrame({ t: 'msg', ch: 'c', seq: 1, id, ts: 5, from: 'a', o: 'n', bin: true, p }));
  assert.ok(decoded.ok && decoded.frames[0]?.t === 'msg');
  const message = toMessage(decoded.frames[0]);
  assert.deepEqual({ ...message, id: [...message.id], payload: [...message.payload] }, {
    channel: 'c', seq: 1, id: [...id], ts: 5, from: 'a', origin: 'n', binary: true, payload: [1, 2],
  });
});
