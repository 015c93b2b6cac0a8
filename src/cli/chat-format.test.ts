import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeFrame,
  describeClose,
  encodeChatMessage,
  encodeHeader,
  formatFrame,
  formatTime,
  liveMarker,
  timedLine,
  isRefusal,
  terminalSafe,
} from './chat-format.ts';
import type { ChatFrame } from './chat-format.ts';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

test('a chat message is UTF-8 JSON {uid, channel, message}', () => {
  const bytes = encodeChatMessage({ uid: 'alice', channel: 'lobby', message: 'hi ✓' });
  assert.equal(new TextDecoder().decode(bytes), '{"uid":"alice","channel":"lobby","message":"hi ✓"}');
});

test('the header carries auth only when there is one', () => {
  assert.equal(encodeHeader('alice', 'lobby'), '{"uid":"alice","channel":"lobby"}');
  assert.equal(
    encodeHeader('alice', 'example', 'afa46b8689dae7a5'),
    '{"uid":"alice","channel":"example","auth":"afa46b8689dae7a5"}',
  );
});

test('an encoded message decodes back as a message', () => {
  const message = { uid: 'bob', channel: 'lobby', message: 'hello\nworld' };
  assert.deepEqual(decodeFrame(encodeChatMessage(message), true), { kind: 'message', ...message });
});

const frames: Array<[string, Uint8Array, boolean, ChatFrame]> = [
  ['a header', utf8('{"uid":"alice","channel":"lobby"}'), false, { kind: 'join', uid: 'alice', channel: 'lobby' }],
  ['a header with unknown fields', utf8('{"uid":"a","channel":"c","peer":true}'), false, { kind: 'join', uid: 'a', channel: 'c' }],
  ['a header without channel', utf8('{"uid":"a"}'), false, { kind: 'join', uid: 'a', channel: undefined }],
  ['a text frame holding a message', utf8('{"uid":"a","message":"m"}'), false, { kind: 'message', uid: 'a', channel: undefined, message: 'm' }],
  ['plain text', utf8('hello'), false, { kind: 'text', text: 'hello' }],
  ['text JSON without uid', utf8('{"channel":"c"}'), false, { kind: 'text', text: '{"channel":"c"}' }],
  ['text JSON with an empty uid', utf8('{"uid":""}'), false, { kind: 'text', text: '{"uid":""}' }],
  ['a text JSON array', utf8('[1]'), false, { kind: 'text', text: '[1]' }],
  ['a message without uid', utf8('{"message":"m"}'), true, { kind: 'message', uid: '?', channel: undefined, message: 'm' }],
  ['binary JSON without message', utf8('{"uid":"a","channel":"c"}'), true, { kind: 'binary', bytes: 25 }],
  ['binary JSON with a non-string message', utf8('{"uid":"a","message":5}'), true, { kind: 'binary', bytes: 23 }],
  ['binary non-JSON text', utf8('hello'), true, { kind: 'binary', bytes: 5 }],
  ['binary JSON null', utf8('null'), true, { kind: 'binary', bytes: 4 }],
  // MlesTalk's CBOR map {uid, channel, message}: not UTF-8.
  ['CBOR', Uint8Array.from([0xa3, 0x63, 0x75, 0x69, 0x64, 0xff, 0xfe]), true, { kind: 'binary', bytes: 7 }],
  ['invalid UTF-8 around JSON', Uint8Array.from([...utf8('{"message":"'), 0xc3, ...utf8('"}')]), true, { kind: 'binary', bytes: 15 }],
  ['an empty binary frame', new Uint8Array(0), true, { kind: 'binary', bytes: 0 }],
];

test('decodeFrame classifies every kind of frame', () => {
  for (const [name, data, isBinary, expected] of frames) {
    assert.deepEqual(decodeFrame(data, isBinary), expected, name);
  }
});

test('formatFrame gives one line per frame', () => {
  assert.equal(formatFrame({ kind: 'message', uid: 'alice', channel: 'c', message: 'hi' }), 'alice: hi');
  assert.equal(formatFrame({ kind: 'join', uid: 'alice', channel: 'c' }), '* alice joined');
  assert.equal(formatFrame({ kind: 'binary', bytes: 12 }), '[binary 12 bytes]');
  assert.equal(formatFrame({ kind: 'text', text: 'raw' }), '[text] raw');
});

test('peer text cannot break lines or send terminal escapes', () => {
  assert.equal(terminalSafe('a\nb\r\x1b[2Jc\td'), 'a\\nb\\r\\u{1b}[2Jc\td');
  assert.equal(terminalSafe('\u202eevil\u0085'), '\\u{202e}evil\\u{85}');
  assert.equal(terminalSafe('héllo ✓ 🙂'), 'héllo ✓ 🙂');
  const line = formatFrame({ kind: 'message', uid: 'm\nallory', channel: 'c', message: 'x\ny' });
  assert.equal(line, 'm\\nallory: x\\ny');
  assert.ok(!line.includes('\n'));
});

test('describeClose uses the reason sent, or a known one', () => {
  assert.equal(describeClose(4409, 'uid already joined to channel'), 'closed 4409: uid already joined to channel');
  assert.equal(describeClose(4401, ''), 'closed 4401: auth failed');
  assert.equal(describeClose(1006, ''), 'closed 1006: connection lost');
  assert.equal(describeClose(4999, ''), 'closed 4999: no reason given');
  assert.equal(describeClose(4400, 'bad\x1b'), 'closed 4400: bad\\u{1b}');
});

test('only 44xx codes are refusals', () => {
  for (const code of [4400, 4401, 4408, 4409, 4429, 4499]) assert.ok(isRefusal(code), String(code));
  for (const code of [1000, 1001, 1006, 1009, 1011, 4000, 4399, 4500]) assert.ok(!isRefusal(code), String(code));
});

test('times: [HH:MM] for today, with the date for another day, in local time; none when unknown', () => {
  const now = new Date(2026, 11, 7, 15, 30).getTime();
  assert.equal(formatTime(new Date(2026, 11, 7, 9, 5).getTime(), now), '[09:05]');
  assert.equal(formatTime(new Date(2026, 11, 6, 23, 59).getTime(), now), '[2026-12-06 23:59]');
  assert.equal(timedLine('alice: hi', new Date(2026, 11, 7, 15, 4).getTime(), now), '[15:04] alice: hi');
  assert.equal(timedLine('* alice joined', undefined, now), '* alice joined');
  assert.equal(liveMarker(true), '--- earlier messages above, new messages below ---');
  assert.equal(liveMarker(false), '--- no earlier messages ---');
});
