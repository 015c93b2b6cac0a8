import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { OutboundFlusher, OutboundQueue } from './outbound.ts';

function queueOn(flusher: OutboundFlusher): { queue: OutboundQueue; written: Buffer[] } {
  const socket = new PassThrough();
  const written: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => written.push(chunk));
  const queue = new OutboundQueue(socket, flusher, 1 << 20, { framesOut: 0, bytesOut: 0 }, () => {});
  return { queue, written };
}

test('a flusher writes its own queues and leaves another flusher\'s alone', async () => {
  const first = new OutboundFlusher();
  const second = new OutboundFlusher();
  const a = queueOn(first);
  const b = queueOn(second);
  a.queue.push(Buffer.from('a1'));
  a.queue.push(Buffer.from('a2'));
  b.queue.push(Buffer.from('b1'));

  first.flush();
  await new Promise((resolve) => process.nextTick(resolve));
  assert.deepEqual(Buffer.concat(a.written).toString(), 'a1a2');
  assert.equal(b.written.length, 0, 'the other node\'s queue still waits for its own flush');

  second.flush();
  await new Promise((resolve) => process.nextTick(resolve));
  assert.deepEqual(Buffer.concat(b.written).toString(), 'b1');
});

test('queued frames leave at the end of the turn without an explicit flush', async () => {
  const { queue, written } = queueOn(new OutboundFlusher());
  queue.push(Buffer.from('x'));
  queue.push(Buffer.from('y'));
  assert.equal(written.length, 0);
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(Buffer.concat(written).toString(), 'xy');
});

test('a closed queue is not flushed', async () => {
  const flusher = new OutboundFlusher();
  const { queue, written } = queueOn(flusher);
  queue.push(Buffer.from('gone'));
  queue.close();
  flusher.flush();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(written.length, 0);
});
