import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headerForReplay, parseMlesHeader } from './header.ts';
import { MAX_NAME_LENGTH } from '../access/names.ts';

test('accepts a minimal header', () => {
  assert.deepEqual(parseMlesHeader('{"uid":"alice","channel":"example"}'), {
    ok: true,
    header: { uid: 'alice', channel: 'example', auth: undefined },
  });
});

test('auth null counts as absent; unknown fields are ignored', () => {
  const result = parseMlesHeader('{"uid":"a","channel":"c","auth":null,"peer":true}');
  assert.deepEqual(result, { ok: true, header: { uid: 'a', channel: 'c', auth: undefined } });
});

test('keeps a string auth', () => {
  const result = parseMlesHeader('{"uid":"a","channel":"c","auth":"00ff"}');
  assert.ok(result.ok && result.header.auth === '00ff');
});

const refused: Array<[string, string]> = [
  ['', 'header is not JSON'],
  ['not json', 'header is not JSON'],
  ['[]', 'header must be a JSON object'],
  ['null', 'header must be a JSON object'],
  ['"uid"', 'header must be a JSON object'],
  ['{}', 'uid must be a string'],
  ['{"uid":1,"channel":"c"}', 'uid must be a string'],
  ['{"uid":"","channel":"c"}', 'uid must not be empty'],
  ['{"uid":"a"}', 'channel must be a string'],
  ['{"uid":"a","channel":""}', 'channel must not be empty'],
  ['{"uid":"ä","channel":"c"}', 'uid must be printable ASCII'],
  ['{"uid":"a","channel":"c\\n"}', 'channel must be printable ASCII'],
  ['{"uid":"a","channel":"c","auth":5}', 'auth must be a string or null'],
  [`{"uid":"${'x'.repeat(MAX_NAME_LENGTH + 1)}","channel":"c"}`, `uid longer than ${MAX_NAME_LENGTH}`],
];

test('refuses bad headers with a specific reason', () => {
  for (const [text, error] of refused) {
    assert.deepEqual(parseMlesHeader(text), { ok: false, error }, text);
  }
});

test('replayed headers lose their auth and keep everything else', () => {
  assert.equal(headerForReplay('{"uid":"a","channel":"c"}'), '{"uid":"a","channel":"c"}');
  assert.equal(
    headerForReplay('{"uid":"a","channel":"c","auth":"ff","x":1}'),
    '{"uid":"a","channel":"c","x":1}',
  );
});
