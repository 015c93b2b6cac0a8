import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClaim, ServerNames } from './server-names.ts';

const X = 'a'.repeat(32);
const Y = 'b'.repeat(32);

test('a node speaks for its own id and for the names it claimed first; for no other server', () => {
  const names = new ServerNames();
  assert.equal(names.verdict(X, X), 'ok');
  assert.equal(names.verdict(X, Y), 'forged', 'another node id is that node\'s alone');
  assert.equal(names.verdict(X, 'chat.example.org'), 'unknown', 'nobody claimed the name yet');
  assert.equal(names.claim(X, 'chat.example.org'), undefined);
  assert.equal(names.verdict(X, 'chat.example.org'), 'ok');
  assert.equal(names.verdict(Y, 'chat.example.org'), 'forged');
  assert.match(names.claim(Y, 'chat.example.org')!, /claimed chat\.example\.org first/);
  assert.equal(names.verdict(Y, 'chat.example.org'), 'forged', 'a later claim changes nothing');
  assert.match(names.claim(Y, X)!, /id of another node/);
  assert.match(names.claim(Y, 'no spaces allowed')!, /not a server name/);
  assert.equal(names.claim(X, 'chat.example.org'), undefined, 'claiming again is harmless');
});

test('claims are {"server_name"} messages; anything else is not one', () => {
  assert.equal(parseClaim(Buffer.from('{"server_name":"b.test"}')), 'b.test');
  for (const other of ['', 'null', '[]', '{"server_name":3}', 'not json']) assert.equal(parseClaim(Buffer.from(other)), undefined, other);
});
