import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptKey, checkUpgrade } from './handshake.ts';

const good = {
  method: 'GET',
  upgrade: 'websocket',
  connection: 'keep-alive, Upgrade',
  key: 'dGhlIHNhbXBsZSBub25jZQ==',
  version: '13',
};

test('computes the accept value of RFC 6455 section 1.3', () => {
  assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  assert.deepEqual(checkUpgrade(good), { ok: true, accept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' });
});

test('accepts header tokens in any case', () => {
  assert.equal(checkUpgrade({ ...good, upgrade: 'WebSocket', connection: 'UPGRADE' }).ok, true);
});

test('refuses each malformed part with a reason', () => {
  const cases: Array<[Partial<typeof good>, string, string]> = [
    [{ method: 'POST' }, 'BAD_UPGRADE', 'method must be GET'],
    [{ upgrade: 'h2c' }, 'BAD_UPGRADE', 'Upgrade must be websocket'],
    [{ connection: 'close' }, 'BAD_UPGRADE', 'Connection must include Upgrade'],
    [{ version: '8' }, 'BAD_VERSION', 'Sec-WebSocket-Version must be 13'],
    [{ key: 'short' }, 'BAD_UPGRADE', 'Sec-WebSocket-Key must be 16 bytes in base64'],
  ];
  for (const [change, code, detail] of cases) {
    assert.deepEqual(checkUpgrade({ ...good, ...change }), { ok: false, code, detail });
  }
  assert.equal(checkUpgrade({ ...good, key: undefined }).ok, false);
});
