import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSubprotocol } from './upgrade-check.ts';

const SPOKEN = ['mles-websocket', 'parley.v1'] as const;

test('accepts mles-websocket or parley.v1 wherever offered, first offered first', () => {
  assert.deepEqual(checkSubprotocol('mles-websocket', SPOKEN), { ok: true, protocol: 'mles-websocket' });
  assert.deepEqual(checkSubprotocol('chat, mles-websocket', SPOKEN), { ok: true, protocol: 'mles-websocket' });
  assert.deepEqual(checkSubprotocol('parley.v1', SPOKEN), { ok: true, protocol: 'parley.v1' });
  assert.deepEqual(checkSubprotocol('parley.v1, mles-websocket', SPOKEN), { ok: true, protocol: 'parley.v1' });
});

test('refuses a missing or foreign subprotocol with distinct codes', () => {
  assert.deepEqual(checkSubprotocol(undefined, SPOKEN), { ok: false, code: 'NO_SUBPROTOCOL' });
  assert.deepEqual(checkSubprotocol(' , ', SPOKEN), { ok: false, code: 'NO_SUBPROTOCOL' });
  assert.deepEqual(checkSubprotocol('mqtt', SPOKEN), { ok: false, code: 'BAD_SUBPROTOCOL' });
  assert.deepEqual(checkSubprotocol('MLES-WEBSOCKET', SPOKEN), { ok: false, code: 'BAD_SUBPROTOCOL' });
});
