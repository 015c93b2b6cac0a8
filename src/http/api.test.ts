import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChannelsRequest, parseMessagesRequest, payloadFields } from './api.ts';

test('parses a query with defaults', () => {
  assert.deepEqual(parseMessagesRequest('/v1/channels/lobby/messages'), {
    ok: true,
    query: { channel: 'lobby', after: undefined, before: undefined, limit: 100, uid: undefined, auth: undefined, encoding: 'base64' },
  });
  assert.deepEqual(parseMessagesRequest('/v1/channels/a%20b%2Fc/messages?after=5&before=9&limit=1000&uid=u&auth=ff&encoding=text'), {
    ok: true,
    query: { channel: 'a b/c', after: 5, before: 9, limit: 1000, uid: 'u', auth: 'ff', encoding: 'text' },
  });
});

test('auth keeps any leading zeros, up to 64 hex digits', () => {
  for (const auth of ['0afa46b8689dae7a5', 'AFA46B8689DAE7A5'.padStart(64, '0')]) {
    const parsed = parseMessagesRequest(`/v1/channels/c/messages?uid=u&auth=${auth}`);
    assert.equal(parsed.ok && parsed.query.auth, auth);
  }
});

test('malformed parameters are 400 with a reason; other paths 404', () => {
  const cases: Array<[string, number, string]> = [
    ['/v1/channels/c/messages?after=-1', 400, 'after must be a whole number >= 0'],
    ['/v1/channels/c/messages?after=x', 400, 'after must be a whole number >= 0'],
    ['/v1/channels/c/messages?before=1.5', 400, 'before must be a whole number >= 0'],
    ['/v1/channels/c/messages?limit=0', 400, 'limit must be a whole number >= 1'],
    ['/v1/channels/c/messages?limit=1001', 400, 'limit must be at most 1000'],
    ['/v1/channels/c/messages?limit=', 400, 'limit must be a whole number >= 1'],
    ['/v1/channels/%zz/messages', 400, 'the channel is not valid percent-encoding'],
    ['/v1/channels/%C3%A4/messages', 400, 'the channel must be 1-1024 printable ASCII characters'],
    [`/v1/channels/c/messages?uid=u&auth=${'0'.repeat(65)}`, 400, 'auth must be 1-64 hex digits'],
    ['/v1/channels/c/messages?uid=u&auth=', 400, 'auth must be 1-64 hex digits'],
    ['/v1/channels/c/messages?uid=u&auth=0x12', 400, 'auth must be 1-64 hex digits'],
    ['/v1/channels/c/messages?limt=1', 400, 'unknown parameter "limt"; known: after, before, limit, uid, auth, encoding'],
    ['/v1/channels/c/messages?after=1&Limit=5', 400, 'unknown parameter "Limit"; known: after, before, limit, uid, auth, encoding'],
    ['/v1/channels/c/messages?encoding=utf8', 400, 'encoding must be base64 or text'],
    ['/v1/channels/c/messages?encoding=', 400, 'encoding must be base64 or text'],
    ['/v1/channels/c', 404, 'no such endpoint: use /v1/channels or /v1/channels/{channel}/messages'],
    ['/v1/other', 404, 'no such endpoint: use /v1/channels or /v1/channels/{channel}/messages'],
  ];
  for (const [target, status, error] of cases) assert.deepEqual(parseMessagesRequest(target), { ok: false, status, error }, target);
});

test('every known parameter is accepted; an empty query segment is not a parameter', () => {
  assert.equal(parseMessagesRequest('/v1/channels/c/messages?after=1&before=3&limit=5&uid=u&auth=ff&encoding=base64&').ok, true);
  assert.equal(parseMessagesRequest('/v1/channels/c/messages?&limit=5').ok, true);
});

test('encoding=text writes UTF-8 payloads as text and leaves the rest base64, saying which', () => {
  const bytes = (...b: number[]) => Uint8Array.from(b);
  const text = (t: string) => new TextEncoder().encode(t);
  assert.deepEqual(payloadFields(text('héllo 🎉'), 'text'), { payload: 'héllo 🎉', encoding: 'text' });
  assert.deepEqual(payloadFields(bytes(), 'text'), { payload: '', encoding: 'text' });
  assert.deepEqual(payloadFields(bytes(0xef, 0xbb, 0xbf, 0x41), 'text'), { payload: '\ufeffA', encoding: 'text' }, 'a byte order mark is kept');
  for (const invalid of [bytes(0xff), bytes(0xc3), bytes(0xed, 0xa0, 0x80), bytes(0xc0, 0xaf), bytes(0x41, 0x80)]) {
    assert.deepEqual(payloadFields(invalid, 'text'), { payload: Buffer.from(invalid).toString('base64'), encoding: 'base64' }, String(invalid));
  }
  assert.deepEqual(payloadFields(text('hi'), 'base64'), { payload: 'aGk=' }, 'the default names no encoding');
});

test('a channel listing takes after (a name) and limit (1-1000, default 100), nothing else', () => {
  const parse = (query: string) => parseChannelsRequest(new URLSearchParams(query));
  assert.deepEqual(parse(''), { ok: true, query: { after: undefined, limit: 100 } });
  assert.deepEqual(parse('after=a%20b&limit=1000'), { ok: true, query: { after: 'a b', limit: 1000 } });
  assert.deepEqual(parse('limit=1001'), { ok: false, status: 400, error: 'limit must be at most 1000' });
  assert.deepEqual(parse('limit=0'), { ok: false, status: 400, error: 'limit must be a whole number >= 1' });
  assert.equal(parse('after=').ok, false, 'an empty name is no name');
  assert.deepEqual(parse('uid=u'), { ok: false, status: 400, error: 'unknown parameter "uid"; known: after, limit' });
});
