// --nats-creds against a nats-server that requires credentials. The server knows the
// user by its nkey (an authorization block): it checks that the node signs its nonce
// with the seed in the credentials file, which is what --nats-creds does on every server.
// The user JWT in the file is read and sent but only checked by a server in operator
// mode (accounts from nsc), which this test does not set up.

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { createUser } from '@nats-io/nkeys';
import { natsUnavailable, startNatsCluster, type NatsCluster } from '../helpers/nats-servers.ts';
import { CLI, startNode } from '../helpers/node-process.ts';

const skip = natsUnavailable();
let nats: NatsCluster;
const dir = mkdtempSync(join(tmpdir(), 'parley-creds-'));
let goodCreds: string;
let otherCreds: string;

/** A credentials file as `nsc generate creds` writes it: a user JWT, then the user's seed. */
function writeCreds(name: string, seed: Uint8Array): string {
  const jwt = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln';
  const path = join(dir, name);
  writeFileSync(
    path,
    `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
      '************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n' +
      `-----BEGIN USER NKEY SEED-----\n${new TextDecoder().decode(seed)}\n------END USER NKEY SEED------\n`,
  );
  return path;
}

before(async () => {
  if (skip !== undefined) return;
  const user = createUser();
  goodCreds = writeCreds('parley.creds', user.getSeed());
  otherCreds = writeCreds('stranger.creds', createUser().getSeed());
  nats = await startNatsCluster(1, undefined, [`authorization { users: [ { nkey: "${user.getPublicKey()}" } ] }`]);
});

after(async () => {
  if (skip !== undefined) return;
  await nats?.stop();
});

/** Runs `parley serve` expecting it to stop at start; its exit code, stderr and time taken. */
async function serveFails(args: readonly string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const data = mkdtempSync(join(tmpdir(), 'parley-test-'));
  try {
    await promisify(execFile)(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--data', data, ...args], { timeout: 20_000 });
    return { code: 0, stderr: '', ms: Date.now() - started };
  } catch (error) {
    const failed = error as { code: number | null; stderr: string };
    return { code: failed.code, stderr: failed.stderr, ms: Date.now() - started };
  }
}

test('with the right credentials file the node connects, and stores and serves messages', { skip }, async () => {
  const node = await startNode(['--nats', nats.urls, '--nats-creds', goodCreds]);
  try {
    const res = await fetch(new URL('/v1/channels/creds/messages?uid=u', node.url), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'signed in' });
    assert.equal(res.status, 201, await res.text());
    const read = (await (await fetch(new URL('/v1/channels/creds/messages?encoding=text', node.url))).json()) as { messages: Array<{ payload: string }> };
    assert.deepEqual(read.messages.map((m) => m.payload), ['signed in']);
  } finally {
    await node.stop();
  }
});

test('credentials refused, missing or unreadable: exit 1 within seconds, naming the URL and what to do', { skip }, async () => {
  // One after another: each is timed.
  const wrong = await serveFails(['--nats', nats.urls, '--nats-creds', otherCreds]);
  const none = await serveFails(['--nats', nats.urls]);
  const unreadable = await serveFails(['--nats', nats.urls, '--nats-creds', join(dir, 'no-such.creds')]);
  const url = nats.urls.replaceAll('.', '\\.');
  assert.equal(wrong.code, 1, wrong.stderr);
  assert.ok(wrong.ms < 10_000, `${wrong.ms} ms`);
  assert.match(wrong.stderr, new RegExp(`NATS at ${url} refused the credentials in ${otherCreds.replaceAll('.', '\\.')}: authorization failed`));
  assert.match(wrong.stderr, /user JWT and seed of a user this server accepts/);
  assert.equal(none.code, 1, none.stderr);
  assert.match(none.stderr, new RegExp(`NATS at ${url} refused this node: authorization required`));
  assert.match(none.stderr, /--nats-creds FILE/);
  assert.equal(unreadable.code, 1, unreadable.stderr);
  assert.match(unreadable.stderr, /--nats-creds: cannot read .*no-such\.creds/);
});
