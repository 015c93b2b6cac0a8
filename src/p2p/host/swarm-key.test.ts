import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSwarmKey, readSwarmKey, SwarmKeyError, swarmKeyFile } from './swarm-key.ts';

const HEX = '8f0c3d9a7e6b5a4c3d2e1f00112233445566778899aabbccddeeff0011223344';
const GOOD = `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\n`;

test('a standard swarm key file gives its 32 bytes, with or without a final newline or CRLF', () => {
  for (const text of [GOOD, GOOD.trimEnd(), GOOD.replaceAll('\n', '\r\n'), GOOD.toUpperCase().replace('/KEY/SWARM/PSK/1.0.0/', '/key/swarm/psk/1.0.0/').replace('/BASE16/', '/base16/')]) {
    assert.equal(Buffer.from(parseSwarmKey(text)).toString('hex'), HEX);
  }
});

test('the key round-trips through the standard form libp2p takes', () => {
  const key = parseSwarmKey(GOOD);
  assert.deepEqual(parseSwarmKey(new TextDecoder().decode(swarmKeyFile(key))), key);
});

test('each malformed key file is refused with what is wrong', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['bad header', `/key/swarm/psk/2.0.0/\n/base16/\n${HEX}\n`, /first line must be "\/key\/swarm\/psk\/1\.0\.0\/"/],
    ['empty file', '', /first line must be/],
    ['other encoding', `/key/swarm/psk/1.0.0/\n/base64/\n${HEX}\n`, /second line must be "\/base16\/"/],
    ['bad hex', `/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(0, 63)}z\n`, /hex digits \(0-9, a-f\) only/],
    ['too short', `/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(0, 62)}\n`, /64 hex digits \(32 bytes\), got 62/],
    ['too long', `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}00\n`, /64 hex digits \(32 bytes\), got 66/],
    ['missing key', '/key/swarm/psk/1.0.0/\n/base16/\n', /64 hex digits \(32 bytes\), got 0/],
    ['extra lines', `${GOOD}more\n`, /more than three lines/],
  ];
  for (const [name, text, message] of cases) {
    assert.throws(() => parseSwarmKey(text), (error: unknown) => error instanceof SwarmKeyError && message.test(error.message), name);
  }
});

test('reading names the file and says the format when the file is wrong, and the cause when it is unreadable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-swarm-key-'));
  const good = join(dir, 'good.key');
  writeFileSync(good, GOOD);
  assert.equal(Buffer.from(readSwarmKey(good)).toString('hex'), HEX);
  const bad = join(dir, 'bad.key');
  writeFileSync(bad, 'hello\n');
  assert.throws(() => readSwarmKey(bad), /--p2p-secret: .*bad\.key is not a swarm key: the first line .*three lines: "\/key\/swarm\/psk\/1\.0\.0\/"/);
  assert.throws(() => readSwarmKey(join(dir, 'missing.key')), /--p2p-secret: cannot read .*missing\.key: ENOENT/);
  assert.throws(() => readSwarmKey(dir), /--p2p-secret: cannot read .*EISDIR/);
  if (process.getuid?.() !== 0) {
    chmodSync(good, 0o000);
    assert.throws(() => readSwarmKey(good), /cannot read .*EACCES/);
  }
});
