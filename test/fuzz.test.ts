// Fuzzing: generated headers and frames, valid, nearly valid and garbage, thrown at
// the codecs and at a running node. Nothing may throw or crash, and well-behaved
// clients must keep working throughout. The seed is printed; FUZZ_SEED replays a run.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve, sep } from 'node:path';
import { authAccepted } from '../src/access/auth.ts';
import { parseMlesHeader } from '../src/mles/header.ts';
import { resolveStaticPath } from '../src/http/static-files.ts';
import { MlesTestClient } from './helpers/mles-client.ts';
import { startNode, type NodeProcess } from './helpers/node-process.ts';
import { Random } from './helpers/random.ts';
import { rawUpgrade } from './helpers/raw-ws.ts';
import { decodeClientFrame, decodeNodeFrames, encodeFrame, encodeMap } from '../src/native/frames.ts';
import { NativeTestClient } from './helpers/native-client.ts';
import WebSocket from 'ws';

const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
console.log(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);

/** A header-like text: valid, mutated, wrongly typed, or garbage. */
function generateHeader(random: Random): string {
  const value = (): unknown =>
    random.pick<() => unknown>([
      () => random.string(random.int(12)),
      () => 'user' + random.int(1000),
      () => random.int(1e6),
      () => null,
      () => [],
      () => ({ nested: random.string(3) }),
      () => '',
      () => 'x'.repeat(random.int(3000)),
      () => true,
    ])();
  switch (random.int(6)) {
    case 0:
      return JSON.stringify({ uid: 'u' + random.int(50), channel: 'fuzz' + random.int(5) });
    case 1:
      return JSON.stringify({ uid: value(), channel: value(), auth: value() });
    case 2: {
      const valid = JSON.stringify({ uid: 'u' + random.int(50), channel: 'c', auth: random.bytes(8).toString('hex') });
      const at = random.int(valid.length);
      return valid.slice(0, at) + random.string(random.int(4)) + valid.slice(at + random.int(3));
    }
    case 3:
      return random.bytes(random.int(64)).toString('latin1');
    case 4:
      return JSON.stringify(value());
    default:
      return random.string(random.int(80));
  }
}

/** A native-protocol-like frame: valid, with wrong field types, or garbage bytes. */
function generateNativeFrame(random: Random): Buffer {
  const anyValue = (): unknown =>
    random.pick<() => unknown>([
      () => random.string(random.int(10)),
      () => 'c' + random.int(3),
      () => random.int(100) - 10,
      () => random.next() * 1e6,
      () => null,
      () => [random.int(5), 'x'],
      () => ({ nested: random.int(3) }),
      () => random.bytes(random.int(40)),
      () => true,
      () => Number.MAX_SAFE_INTEGER + random.int(10),
    ])();
  switch (random.int(5)) {
    case 0:
      return random.bytes(random.int(60));
    case 1: {
      const frame: Record<string, unknown> = { t: random.pick(['hello', 'sub', 'unsub', 'pub', 'query', 'nope', 5]) };
      for (const key of ['uid', 'ch', 'cid', 'qid', 'p', 'after', 'before', 'limit', 'ids', 'auth', 'bin', 'retry', 'desc', 'since']) {
        if (random.next() < 0.5) frame[key] = anyValue();
      }
      return encodeMap(frame);
    }
    case 2: {
      const valid = encodeMap({ t: 'pub', ch: 'fz' + random.int(3), cid: String(random.int(1e6)), p: random.bytes(random.int(30)) });
      const at = random.int(valid.length);
      valid[at] = random.int(256);
      return random.next() < 0.5 ? valid : valid.subarray(0, at);
    }
    case 3:
      return encodeMap({ t: 'sub', ch: 'fz' + random.int(3), after: random.pick([0, 1, 5, 1e9, -1, 2.5]) });
    default:
      return encodeMap({ t: 'query', qid: 'q', ch: 'fz0', limit: random.int(2000), after: random.int(10), ids: random.next() < 0.3 ? [random.bytes(32)] : undefined });
  }
}

describe('codec fuzz', () => {
  test('the native frame decoder is total over 20,000 generated inputs', () => {
    const random = new Random(seed + 3);
    let valid = 0;
    for (let i = 0; i < 20_000; i++) {
      const result = decodeClientFrame(generateNativeFrame(random));
      if (result.ok) valid++;
      else assert.ok(result.code === 'BAD_FRAME' || result.code === 'BAD_CURSOR');
    }
    assert.ok(valid > 1000, `only ${valid} generated frames were valid: the generator is too narrow`);
  });

  test('the client SDK decodes 20,000 mutated node messages without throwing', () => {
    const random = new Random(seed + 7);
    const msg = (seq: number) =>
      encodeFrame({ t: 'msg', ch: 'c', seq, id: new Uint8Array(32), ts: 1, from: 'u', o: 'n', bin: true, p: random.bytes(random.int(40)) });
    let valid = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = Buffer.concat(Array.from({ length: 1 + random.int(4) }, (_, k) => msg(k + 1)));
      for (let flips = random.int(4); flips > 0; flips--) bytes[random.int(bytes.length)] = random.int(256);
      const cut = random.next() < 0.2 ? bytes.subarray(0, random.int(bytes.length)) : bytes;
      if (decodeNodeFrames(cut).ok) valid++;
    }
    assert.ok(valid > 1000, `only ${valid} messages decoded: the mutations are too coarse`);
  });

  test('header parsing and auth are total over 20,000 generated inputs', () => {
    const random = new Random(seed);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = generateHeader(random);
      const result = parseMlesHeader(text);
      if (result.ok) {
        accepted++;
        for (const name of [result.header.uid, result.header.channel]) {
          assert.match(name, /^[\x20-\x7e]{1,1024}$/, text);
        }
        assert.equal(typeof authAccepted(result.header.uid, result.header.channel, result.header.auth, random.pick([undefined, 'k'])), 'boolean');
      } else {
        assert.equal(typeof result.error, 'string');
      }
    }
    assert.ok(accepted > 1000, `only ${accepted} generated headers were valid: the generator is too narrow`);
  });

  test('static path resolution never leaves the root over 20,000 generated paths', () => {
    const random = new Random(seed + 1);
    const root = '/srv/www';
    const pieces = ['..', '.', '%2e', '%2E%2e', '%2f', '%5c', '\\', '/', '//', 'a', '%00', '%', '%zz', '~', 'index.html'];
    for (let i = 0; i < 20_000; i++) {
      let url = '/';
      for (let n = random.int(8); n > 0; n--) url += random.next() < 0.8 ? random.pick(pieces) : random.string(2);
      const result = resolveStaticPath({ root, perHost: false, domains: [], host: undefined, url });
      if (result.ok) {
        const full = resolve(result.root, result.relative);
        assert.ok(full === root || full.startsWith(root + sep), `${url} -> ${full}`);
      }
    }
  });
});

/** Masks a client frame as RFC 6455 requires (or not, when fuzzing that too). */
function clientFrame(random: Random, payload: Buffer, opcode: number, options: { mask?: boolean; rsv?: number; fin?: boolean } = {}): Buffer {
  const mask = options.mask ?? true;
  const length = payload.length;
  const head: number[] = [((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (length < 126) head.push(maskBit | length);
  else if (length < 65536) head.push(maskBit | 126, length >> 8, length & 0xff);
  else head.push(maskBit | 127, 0, 0, 0, 0, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = random.bytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, masked]);
}


describe('node fuzz', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode(['--rate-limit', '0', '--max-message', '4096', '--header-timeout', '2'])));
  after(async () => {
    const code = await node.stop();
    // A crash shows here with its stack, not only as refused connections.
    assert.equal(code, 0, `node exited with ${code}:\n${node.stderr.join('\n')}`);
  });

  test('10,000 generated frames and headers leave the node and good clients unharmed', { timeout: 120_000 }, async () => {
    const random = new Random(seed + 2);
    const alice = await MlesTestClient.join(node.wsUrl, { uid: 'alice', channel: 'fuzz0' });
    const bob = await MlesTestClient.join(node.wsUrl, { uid: 'bob', channel: 'fuzz0' });
    await bob.waitFor(1);
    let sentToBob = 0;

    const total = 10_000;
    let frames = 0;
    let connections = 0;
    while (frames < total) {
      // A batch of hostile connections, each with a header and a burst of frames.
      const batch = await Promise.all(Array.from({ length: 20 }, () => rawUpgrade(node.port)));
      connections += batch.length;
      for (const socket of batch) {
        const writes: Buffer[] = [clientFrame(random, Buffer.from(generateHeader(random)), random.next() < 0.9 ? 1 : 2)];
        for (let n = random.int(40); n > 0; n--) {
          const payload = random.bytes(random.pick([0, 1, 16, 125, 126, 200, 4096, 5000]));
          writes.push(
            random.pick([
              () => clientFrame(random, payload, random.pick([1, 2])),
              () => clientFrame(random, payload, random.int(16)), // reserved and control opcodes
              () => clientFrame(random, payload.subarray(0, 100), 2, { mask: false }),
              () => clientFrame(random, payload, 2, { rsv: random.int(8) }),
              () => clientFrame(random, payload, 1, { fin: false }),
              () => random.bytes(random.int(32)), // not a frame at all
            ])(),
          );
        }
        frames += writes.length;
        // Split the bytes at random points, as a slow network would.
        const bytes = Buffer.concat(writes);
        for (let at = 0; at < bytes.length; ) {
          const step = 1 + random.int(2000);
          socket.write(bytes.subarray(at, at + step));
          at += step;
        }
      }
      // Good traffic keeps flowing while the node deals with the batch.
      alice.send(`hello ${sentToBob++}`);
      for (const socket of batch) socket.destroy();
    }
    await bob.waitForText(`hello ${sentToBob - 1}`, 10_000);
    const fromAlice = bob.texts().filter((t) => t.startsWith('hello '));
    assert.deepEqual(fromAlice, Array.from({ length: sentToBob }, (_, i) => `hello ${i}`));

    const health = await fetch(new URL('/healthz', node.url));
    assert.equal(health.status, 200);
    assert.equal(node.child.exitCode, null, 'the node must still be running');
    console.log(`fuzz: ${frames} frames over ${connections} connections`);
    await Promise.all([alice.close(), bob.close()]);
  });
});

describe('native node fuzz', () => {
  let node: NodeProcess;
  before(async () => (node = await startNode(['--rate-limit', '0', '--max-message', '4096', '--header-timeout', '2'])));
  after(async () => {
    const code = await node.stop();
    assert.equal(code, 0, `node exited with ${code}:\n${node.stderr.join('\n')}`);
  });

  test('10,000 generated native frames leave the node and good clients unharmed', { timeout: 120_000 }, async () => {
    const random = new Random(seed + 4);
    const reader = await NativeTestClient.connect(node.wsUrl, 'reader');
    reader.send({ t: 'sub', ch: 'fz0', after: 0 });
    await reader.next((f) => f.t === 'live');
    const writer = await NativeTestClient.connect(node.wsUrl, 'writer');
    let frames = 0;
    let good = 0;
    while (frames < 10_000) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const ws = new WebSocket(node.wsUrl, 'parley.v1');
          ws.on('error', () => {});
          await new Promise((resolve) => ws.once('open', resolve).once('close', resolve));
          return ws;
        }),
      );
      for (const ws of batch) {
        if (ws.readyState !== WebSocket.OPEN) continue;
        if (random.next() < 0.8) ws.send(encodeMap({ t: 'hello', uid: 'fuzz' + random.int(100) }));
        for (let n = random.int(40); n > 0; n--) {
          ws.send(random.next() < 0.05 ? random.string(10) : generateNativeFrame(random));
          frames++;
        }
      }
      writer.send({ t: 'pub', ch: 'fz0', cid: `good-${good}`, p: Buffer.from(`good-${good}`) });
      good++;
      for (const ws of batch) ws.terminate();
    }
    await writer.next((f) => f.t === 'ack' && f.cid === `good-${good - 1}`, 20_000);
    const last = `good-${good - 1}`;
    await reader.next((f) => f.t === 'msg' && Buffer.from(f.p as Uint8Array).toString() === last, 20_000);
    const seen = reader.messages('fz0').map((f) => Buffer.from(f.p as Uint8Array).toString()).filter((t) => t.startsWith('good-'));
    assert.deepEqual(seen, Array.from({ length: good }, (_, i) => `good-${i}`));
    const seqs = reader.messages('fz0').map((f) => f.seq as number);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'the reader saw every seq once');
    assert.equal((await fetch(new URL('/healthz', node.url))).status, 200);
    console.log(`native fuzz: ${frames} frames`);
    await Promise.all([reader.close(), writer.close()]);
  });
});
