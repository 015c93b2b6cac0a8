import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSubprotocol } from './upgrade-check.ts';

test('accepts mles-websocket or parley.v1 wherever offered, first offered first', () => {
  assert.deepEqual(checkSubprotocol('mles-websocket'), { ok: true, protocol: 'mles-websocket' });
  assert.deepEqual(checkSubprotocol('chat, mles-websocket'), { ok: true, protocol: 'mles-websocket' });
  assert.deepEqual(checkSubprotocol('parley.v1'), { ok: true, protocol: 'parley.v1' });
  assert.deepEqual(checkSubprotocol('parley.v1, mles-websocket'), { ok: true, protocol: 'parley.v1' });
});

test('refuses a missing or foreign subprotocol with distinct codes', () => {
  assert.deepEqual(checkSubprotocol(undefined), { ok: false, code: 'NO_SUBPROTOCOL' });
  assert.deepEqual(checkSubprotocol(' , '), { ok: false, code: 'NO_SUBPROTOCOL' });
  assert.deepEqual(checkSubprotocol('mqtt'), { ok: false, code: 'BAD_SUBPROTOCOL' });
  assert.deepEqual(checkSubprotocol('MLES-WEBSOCKET'), { ok: false, code: 'BAD_SUBPROTOCOL' });
});
