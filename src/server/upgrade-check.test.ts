import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSubprotocol } from './upgrade-check.ts';

test('accepts mles-websocket wherever it is offered', () => {
  assert.deepEqual(checkSubprotocol('mles-websocket'), { ok: true, protocol: 'mles-websocket' });
  assert.deepEqual(checkSubprotocol('chat, mles-websocket'), { ok: true, protocol: 'mles-websocket' });
});

test('refuses a missing or foreign subprotocol with distinct codes', () => {
  assert.deepEqual(checkSubprotocol(undefined), { ok: false, code: 'NO_SUBPROTOCOL' });
  assert.deepEqual(checkSubprotocol(' , '), { ok: false, code: 'NO_SUBPROTOCOL' });
  assert.deepEqual(checkSubprotocol('mqtt'), { ok: false, code: 'BAD_SUBPROTOCOL' });
  assert.deepEqual(checkSubprotocol('MLES-WEBSOCKET'), { ok: false, code: 'BAD_SUBPROTOCOL' });
});
