import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTextPlain, parsePublishRequest } from './publish.ts';

test('parses a publish: channel from the path, uid required, auth and cid optional', () => {
  assert.deepEqual(parsePublishRequest('/v1/channels/a%20b/messages?uid=alice&auth=ff&cid=c1'), {
    ok: true,
    target: { channel: 'a b', uid: 'alice', auth: 'ff', cid: 'c1' },
  });
  assert.deepEqual(parsePublishRequest('/v1/channels/lobby/messages?uid=u'), {
    ok: true,
    target: { channel: 'lobby', uid: 'u', auth: undefined, cid: undefined },
  });
  const error = (target: string) => {
    const parsed = parsePublishRequest(target);
    return parsed.ok ? undefined : [parsed.status, parsed.error];
  };
  assert.deepEqual(error('/v1/channels/lobby/messages'), [400, 'uid is required']);
  assert.match(String(error('/v1/channels/lobby/messages?uid=')?.[1]), /^uid must be/);
  assert.match(String(error('/v1/channels/lobby/messages?uid=u&auth=xyz')?.[1]), /^auth must be/);
  assert.match(String(error('/v1/channels/lobby/messages?uid=u&cid=')?.[1]), /^cid must be/);
  assert.deepEqual(error('/v1/channels/lobby/messages?uid=u&limit=1'), [400, 'unknown parameter "limit"; known: uid, auth, cid']);
  assert.equal(error('/v1/channels/%ff/messages?uid=u')?.[0], 400);
});

test('text/plain, with any parameters, makes a text message', () => {
  assert.equal(isTextPlain('text/plain'), true);
  assert.equal(isTextPlain('Text/Plain; charset=utf-8'), true);
  assert.equal(isTextPlain('application/octet-stream'), false);
  assert.equal(isTextPlain('text/html'), false);
  assert.equal(isTextPlain(undefined), false);
});
