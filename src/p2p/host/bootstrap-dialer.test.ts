import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { BootstrapDialer } from './bootstrap-dialer.ts';

const log = pino({ level: 'silent' });

test('a bootstrap peer is dialled at start, redialled after failures with growing delays, and after a disconnect', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const dials: number[] = [];
  let connected = false;
  let failing = 2;
  const dialer = new BootstrapDialer({
    targets: [{ peerId: 'P', addr: '/ip4/127.0.0.1/tcp/1/p2p/P' }],
    dial: async () => {
      dials.push(Date.now());
      if (failing-- > 0) throw new Error('refused');
      connected = true;
    },
    isConnected: () => connected,
    log,
    backoff: { initialMs: 100, jitter: 0 },
  });
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  dialer.start();
  await settle();
  assert.equal(dials.length, 1);
  t.mock.timers.tick(99);
  await settle();
  assert.equal(dials.length, 1);
  t.mock.timers.tick(1);
  await settle();
  assert.equal(dials.length, 2, 'second try after 100 ms');
  t.mock.timers.tick(200);
  await settle();
  assert.equal(dials.length, 3, 'third after 200 ms more; it connects');
  dialer.peerConnected('P');
  t.mock.timers.tick(10_000);
  await settle();
  assert.equal(dials.length, 3, 'nothing while connected');
  connected = false;
  dialer.peerDisconnected('P');
  dialer.peerDisconnected('other');
  t.mock.timers.tick(100);
  await settle();
  assert.equal(dials.length, 4, 'redialled after the disconnect, delays started over');
  dialer.stop();
});
