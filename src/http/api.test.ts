import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessagesRequest } from './api.ts';

test('parses a query with defaults', () => {
  assert.deepEqual(parseMessagesRequest('/v1/channels/lobby/messages'), {
    ok: true,
    query: { channel: 'lobby', after: undefined, before: undefined, limit: 100, uid: undefined, auth: undefined },
  });
  assert.deepEqual(parseMessagesRequest('/v1/channels/a%20b%2Fc/messages?after=5&before=9&limit=1000&uid=u&auth=ff'), {
    ok: true,
    query: { channel: 'a b/c', after: 5, before: 9, limit: 1000, uid: 'u', auth: 'ff' },
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
    ['/v1/channels/c/messages?limt=1', 400, 'unknown parameter "limt"; known: after, before, limit, uid, auth'],
    ['/v1/channels/c/messages?after=1&Limit=5', 400, 'unknown parameter "Limit"; known: after, before, limit, uid, auth'],
    ['/v1/channels/c', 404, 'no such endpoint: use /v1/channels/{channel}/messages'],
    ['/v1/other', 404, 'no such endpoint: use /v1/channels/{channel}/messages'],
  ];
  for (const [target, status, error] of cases) assert.deepEqual(parseMessagesRequest(target), { ok: false, status, error }, target);
});

test('every known parameter is accepted; an empty query segment is not a parameter', () => {
  assert.equal(parseMessagesRequest('/v1/channels/c/messages?after=1&before=3&limit=5&uid=u&auth=ff&').ok, true);
  assert.equal(parseMessagesRequest('/v1/channels/c/messages?&limit=5').ok, true);
});
