// `parley group` end to end: two users, each a separate CLI process per verb with its
// own state directory, against a real node process. Also checks what the node stored:
// only ciphertext.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { ParleyClient } from '../../src/client/index.ts';
import { CLI, REPO_ROOT, startNode, type NodeProcess } from '../helpers/node-process.ts';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('parley group against a node', () => {
  let node: NodeProcess;
  let dir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    node = await startNode();
    dir = mkdtempSync(join(tmpdir(), 'parley-group-cli-'));
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const args = (uid: string, verb: string, rest: readonly string[]): string[] => [CLI, 'group', verb, ...rest, '--url', node.wsUrl, '--uid', uid, '--data', join(dir, uid)];

  function group(uid: string, verb: string, ...rest: string[]): Promise<Run> {
    const child = spawn(process.execPath, args(uid, verb, rest), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  }

  async function ok(uid: string, verb: string, ...rest: string[]): Promise<string> {
    const run = await group(uid, verb, ...rest);
    assert.equal(run.code, 0, `${uid} ${verb} ${rest.join(' ')}: ${run.stderr}`);
    return run.stdout;
  }

  test('two users: create, add, send, read, members, remove; the node holds only ciphertext', async () => {
    await ok('bob', 'init');
    await ok('alice', 'create', 'team');
    const unknown = await group('alice', 'add', 'team', 'zed');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /NO_KEY_PACKAGES/);
    await ok('alice', 'add', 'team', 'bob');
    assert.match(await ok('alice', 'send', 'team', 'the plan is secret'), /^sent to team \(seq \d+\)\n$/);
    await ok('bob', 'send', 'team', 'agreed, très secret');
    assert.equal(await ok('bob', 'read', 'team'), 'alice: the plan is secret\nbob: agreed, très secret\n');
    assert.equal(await ok('alice', 'read', 'team'), 'alice: the plan is secret\nbob: agreed, très secret\n');
    const members = (await ok('bob', 'members', 'team')).trim().split('\n').map((l) => l.split(' ')[0]);
    assert.deepEqual(members, ['alice', 'bob']);

    await ok('alice', 'remove', 'team', 'bob');
    await ok('alice', 'send', 'team', 'after bob left');
    const afterRemoval = await ok('bob', 'read', 'team');
    assert.match(afterRemoval, /^you were removed from team at epoch \d+; older messages below are those you could read\n/);
    assert.equal(afterRemoval.replace(/^you were removed[^\n]*\n/, ''), 'alice: the plan is secret\nbob: agreed, très secret\n');
    const refused = await group('bob', 'send', 'team', 'still here?');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /NOT_MEMBER/);

    // What the node stored for the group: no plaintext anywhere.
    const reader = new ParleyClient({ url: node.wsUrl, uid: 'auditor' });
    await reader.connect();
    const page = await reader.query('mls/group/team', { limit: 1000 });
    await reader.close();
    assert.ok(page.messages.length >= 6);
    for (const message of page.messages) {
      const bytes = Buffer.from(message.payload);
      for (const secret of ['plan is secret', 'très secret', 'after bob left']) assert.equal(bytes.includes(Buffer.from(secret)), false, `plaintext "${secret}" at seq ${message.seq}`);
    }
  });

  test('watch prints messages as they come, including to a member added while watching', { timeout: 30_000 }, async () => {
    await ok('carol', 'init');
    await ok('dave', 'create', 'live');
    const child = spawn(process.execPath, args('carol', 'watch', ['live']), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const lines: string[] = [];
    const waiters: Array<{ want: string; resolve: () => void }> = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (line === w.want) w.resolve();
        else waiters.push(w);
      }
    });
    const seen = (want: string): Promise<void> => (lines.includes(want) ? Promise.resolve() : new Promise((resolve) => waiters.push({ want, resolve })));
    await ok('dave', 'add', 'live', 'carol');
    await ok('dave', 'send', 'live', 'are you watching?');
    await seen('dave: are you watching?');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    assert.equal(await exited, 0);
  });
});
