import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Announcer } from './announcer.ts';
import { nameCid, nodeCid } from './records.ts';

const log = pino({ level: 'silent' });

test('records are provided when a DHT peer appears, again after a failure, and not again within the refresh time', async () => {
  const provided: string[] = [];
  let fail = true;
  const records = [
    { cid: nodeCid('0'.repeat(32)), label: 'node' },
    { cid: nameCid('alice'), label: 'name alice' },
  ];
  let done: () => void = () => {};
  const announcer = new Announcer({
    records,
    provide: async (cid) => {
      if (fail) {
        fail = false;
        setImmediate(() => done());
        throw new Error('no peers');
      }
      provided.push(cid.toString());
      if (provided.length === records.length) setImmediate(() => done());
    },
    log,
    refreshMs: 60_000,
  });
  await new Promise<void>((resolve) => {
    done = resolve;
    announcer.peerAdded();
  });
  assert.equal(announcer.announced, 0);
  await new Promise<void>((resolve) => {
    done = resolve;
    announcer.peerAdded();
  });
  assert.deepEqual(provided, records.map((r) => r.cid.toString()));
  assert.equal(announcer.announced, 1);
  announcer.peerAdded();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(provided.length, 2, 'within the refresh time nothing is provided again');
  announcer.stop();
});
