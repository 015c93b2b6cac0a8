import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePeerList } from './sources.ts';

test('a peer list is ws(s) URLs one a line, with comments and blank lines', () => {
  const { urls, errors } = parsePeerList('# peers\nws://a.example:8080/\n\n  wss://b.example/  # the hub\nhttp://c.example/\nnot a url\n');
  assert.deepEqual(urls, ['ws://a.example:8080/', 'wss://b.example/']);
  assert.deepEqual(errors, ['line 5: "http://c.example/" is not a ws:// or wss:// URL', 'line 6: "not a url" is not a ws:// or wss:// URL']);
});
