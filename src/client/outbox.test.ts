import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CidGenerator, Outbox, randomId } from './outbox.ts';

const bytes = (n: number) => new Uint8Array(n);

test('keeps entries in publish order and counts their bytes', () => {
  const outbox = new Outbox();
  outbox.add({ cid: 'a', channel: 'c', payload: bytes(3), binary: true });
  outbox.add({ cid: 'b', channel: 'c', payload: bytes(5), binary: false });
  outbox.add({ cid: 'c', channel: 'd', payload: bytes(1), binary: true });
  assert.deepEqual(outbox.entries().map((e) => e.cid), ['a', 'b', 'c']);
  assert.equal(outbox.bytes, 9);
  assert.equal(outbox.get('a')?.sent, false);
  assert.equal(outbox.remove('b')?.cid, 'b');
  assert.equal(outbox.remove('b'), undefined);
  assert.equal(outbox.bytes, 4);
  assert.deepEqual(outbox.entries().map((e) => e.cid), ['a', 'c']);
  assert.throws(() => outbox.add({ cid: 'a', channel: 'c', payload: bytes(1), binary: true }), /already/);
});

test('is bounded by count and by bytes', () => {
  const byCount = new Outbox({ maxMessages: 2 });
  byCount.add({ cid: '1', channel: 'c', payload: bytes(1), binary: true });
  assert.ok(byCount.fits(1));
  byCount.add({ cid: '2', channel: 'c', payload: bytes(1), binary: true });
  assert.ok(!byCount.fits(0));
  byCount.remove('1');
  assert.ok(byCount.fits(1));

  const byBytes = new Outbox({ maxBytes: 10 });
  assert.ok(byBytes.fits(10));
  assert.ok(!byBytes.fits(11));
  byBytes.add({ cid: '1', channel: 'c', payload: bytes(6), binary: true });
  assert.ok(byBytes.fits(4));
  assert.ok(!byBytes.fits(5));
  assert.throws(() => new Outbox({ maxMessages: 0 }), RangeError);
});

test('cids are unique per generator and differ between generators', () => {
  const one = new CidGenerator();
  const two = new CidGenerator();
  const cids = new Set<string>();
  for (let i = 0; i < 1000; i++) cids.add(one.next());
  assert.equal(cids.size, 1000);
  const a = one.next();
  const b = two.next();
  assert.notEqual(a.split('-')[0], b.split('-')[0], 'random prefixes differ');
  assert.match(a, /^[0-9a-f]{16}-[0-9a-z]+$/);
  assert.ok(a.length <= 256);
  assert.equal(new CidGenerator('fixed').next(), 'fixed-1');
  assert.match(randomId(4), /^[0-9a-f]{8}$/);
});
