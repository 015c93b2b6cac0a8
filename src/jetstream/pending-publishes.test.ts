import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppendResult, StoredMessage } from '../store/store.ts';
import { StoreError } from '../store/store-error.ts';
import { PendingPublishes } from './pending-publishes.ts';

function result(seq: number): AppendResult {
  const message: StoredMessage = {
    channel: 'c',
    seq,
    id: new Uint8Array(32),
    ts: 0,
    origin: 'o',
    originSeq: seq,
    uid: 'u',
    binary: false,
    payload: new Uint8Array([seq]),
  };
  return { message, duplicate: false };
}

/** A publish callback that keeps what it was answered. */
function answers(): { done: (r: AppendResult | Error) => void; got: Array<AppendResult | Error> } {
  const got: Array<AppendResult | Error> = [];
  return { done: (r) => got.push(r), got };
}

test('a publish is taken once, by its ref', () => {
  const pending = new PendingPublishes();
  const a = answers();
  const ref = pending.add(undefined, a.done);
  const other = pending.add(undefined, undefined);
  assert.notEqual(ref, other);
  assert.equal(pending.take(ref)?.done, a.done);
  assert.equal(pending.take(ref), undefined);
});

test('a duplicate of an applied original is answered at once with its result', () => {
  const pending = new PendingPublishes();
  pending.remember(7, result(3));
  pending.applied(7);
  const a = answers();
  pending.duplicateAcked(pending.add(undefined, a.done), 7);
  assert.equal(a.got.length, 1);
  const got = a.got[0] as AppendResult;
  assert.equal(got.duplicate, true);
  assert.equal(got.message.seq, 3);
});

test('a duplicate of an original not applied yet waits until it is', () => {
  const pending = new PendingPublishes();
  const a = answers();
  pending.duplicateAcked(pending.add(undefined, a.done), 9);
  pending.applied(8);
  assert.equal(a.got.length, 0);
  pending.remember(9, result(4));
  pending.applied(9);
  assert.equal((a.got[0] as AppendResult).message.seq, 4);
  pending.applied(10);
  assert.equal(a.got.length, 1, 'answered once');
});

test('a duplicate whose original is no longer kept is told to publish again', () => {
  const pending = new PendingPublishes();
  pending.remember(1, result(1));
  pending.remember(200_001, result(2)); // pushes stream message 1 out
  pending.applied(200_001);
  const a = answers();
  pending.duplicateAcked(pending.add(undefined, a.done), 1);
  assert.ok(a.got[0] instanceof StoreError);
  assert.equal((a.got[0] as StoreError).code, 'unavailable');
  assert.match((a.got[0] as Error).message, /publish it again/);
});

test('failing refs answers those publishes only; failAll answers the rest', () => {
  const pending = new PendingPublishes();
  const [a, b, c] = [answers(), answers(), answers()];
  const refs = [pending.add(undefined, a.done), pending.add(undefined, b.done)];
  const third = pending.add(undefined, c.done);
  const failure = new Error('not stored');
  pending.fail(refs, failure);
  assert.deepEqual([a.got, b.got, c.got], [[failure], [failure], []]);
  pending.failAll(new Error('stopping'));
  assert.equal((c.got[0] as Error).message, 'stopping');
  assert.equal(a.got.length, 1);
  assert.equal(pending.take(third), undefined);
});
