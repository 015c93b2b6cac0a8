// MLS group costs on the client side (npm run bench:mls [-- --sizes 10,50,100 --reps 5
// --messages 200]): for groups of each size, the time to create a commit that adds one
// member and to process it as another member, the same for a key update, per-message
// encrypt and decrypt, the client's full per-message path (encrypt, frame, unframe,
// decrypt), and the size of a member's saved state (with
// the past epochs' keys it keeps) and the time to save and load it. Everything runs in this process
// through src/group/mls.ts, the adapter the client uses; no node is involved.
// The last two columns go through the real GroupClient with its SQLite state (each member
// its own database in a temp directory) over an in-memory relay: `send` until it is in the
// group's order (sync, encrypt, store, publish, read back), and one member's `sync` that
// reads one new message. Network time is left out; everything else a user pays is in.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MemoryIdentityPins, PinnedAuthenticationService } from '../src/group/credential.ts';
import { GroupClient } from '../src/group/group-client.ts';
import { MemoryRelay } from '../src/group/memory-relay.testkit.ts';
import { decodeGroupEnvelope, encodeApplication, encodeGroupMls } from '../src/group/envelope.ts';
import { createInstallationIdentity, type InstallationIdentity } from '../src/group/identity.ts';
import {
  buildCommit,
  clientConfig,
  createGroupState,
  createKeyPackage,
  decodeKeyPackage,
  decodeState,
  encodeState,
  encryptApplication,
  joinFromWelcome,
  loadSuite,
  processIncoming,
  RETAINED_EPOCHS,
  type MlsGroupState,
} from '../src/group/mls.ts';
import { groupPolicy } from '../src/group/policy.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,50,100' },
    reps: { type: 'string', default: '5' },
    messages: { type: 'string', default: '200' },
    'client-messages': { type: 'string', default: '50' },
  },
});
const clientMessageCount = Number(values['client-messages']);
const sizes = values.sizes.split(',').map(Number);
const reps = Number(values.reps);
const messageCount = Number(values.messages);

const cs = await loadSuite();
const config = clientConfig(new PinnedAuthenticationService(cs.signature, new MemoryIdentityPins()));

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
}

async function installation(uid: string): Promise<{ id: InstallationIdentity; kp: Awaited<ReturnType<typeof createKeyPackage>> }> {
  const id = await createInstallationIdentity(cs, uid);
  return { id, kp: await createKeyPackage(cs, id.credential, id.signatureKey) };
}

/** A group of `size` members as seen by its creator and by its last member. */
async function groupOf(size: number): Promise<{ creator: MlsGroupState; member: MlsGroupState }> {
  const first = await installation('u0');
  let creator = await createGroupState(cs, crypto.getRandomValues(new Uint8Array(16)), first.kp, config);
  const others = await Promise.all(Array.from({ length: size - 1 }, (_, i) => installation(`u${i + 1}`)));
  const result = await buildCommit(cs, creator, { add: others.map((o) => decodeKeyPackage(o.kp.publicBytes)!) });
  creator = result.state;
  const member = await joinFromWelcome(cs, result.welcome!, others.at(-1)!.kp, config);
  return { creator, member };
}

/**
 * Mean ms per message for a send through GroupClient (as the creator of a group of `size`)
 * and for another member's sync that reads it, after a few epochs so that both keep
 * past-epoch keys as real members do.
 */
async function clientCosts(size: number): Promise<{ send: number; receive: number }> {
  const relay = new MemoryRelay();
  const root = mkdtempSync(join(tmpdir(), 'parley-bench-mls-'));
  const open = async (uid: string): Promise<GroupClient> => {
    const client = await GroupClient.open({ uid, dataDir: join(root, uid), relay: relay.as(uid) });
    await client.init();
    return client;
  };
  const clients: GroupClient[] = [];
  try {
    const creator = await open('u0');
    clients.push(creator);
    for (let i = 1; i < size; i++) clients.push(await open(`u${i}`));
    const reader = clients.at(-1)!;
    await creator.create('bench');
    await creator.add('bench', clients.slice(1).map((c) => c.uid));
    await reader.sync();
    for (let i = 0; i < RETAINED_EPOCHS; i++) {
      await creator.updateKeys('bench');
      await reader.sync('bench');
    }
    let sendMs = 0;
    let receiveMs = 0;
    for (let i = -3; i < clientMessageCount; i++) {
      const t0 = performance.now();
      await creator.send('bench', `message number ${i} of the benchmark`);
      const t1 = performance.now();
      await reader.sync('bench');
      const t2 = performance.now();
      if (i < 0) continue; // warm-up
      sendMs += t1 - t0;
      receiveMs += t2 - t1;
    }
    if (reader.messages('bench').length !== clientMessageCount + 3) throw new Error('the reader missed messages');
    return { send: sendMs / clientMessageCount, receive: receiveMs / clientMessageCount };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    rmSync(root, { recursive: true, force: true });
  }
}

interface Row {
  size: number;
  addCommit: number;
  addProcess: number;
  updateCommit: number;
  updateProcess: number;
  encrypt: number;
  decrypt: number;
  endToEnd: number;
  stateKb: number;
  stateSave: number;
  stateLoad: number;
  clientSend: number;
  clientReceive: number;
}

const rows: Row[] = [];
for (const size of sizes) {
  const { creator, member } = await groupOf(size);
  const addCommit: number[] = [];
  const addProcess: number[] = [];
  const updateCommit: number[] = [];
  const updateProcess: number[] = [];
  for (let i = 0; i < reps; i++) {
    const joiner = await installation(`new${i}`);
    const [add, tAdd] = await timed(() => buildCommit(cs, creator, { add: [decodeKeyPackage(joiner.kp.publicBytes)!] }));
    const [processed, tProc] = await timed(() => processIncoming(cs, member, add.commit, groupPolicy));
    if (processed.kind !== 'commit') throw new Error(`commit not applied: ${JSON.stringify(processed)}`);
    addCommit.push(tAdd);
    addProcess.push(tProc);
    const [update, tUpd] = await timed(() => buildCommit(cs, creator, {}));
    const [applied, tUpdProc] = await timed(() => processIncoming(cs, member, update.commit, groupPolicy));
    if (applied.kind !== 'commit') throw new Error('update not applied');
    updateCommit.push(tUpd);
    updateProcess.push(tUpdProc);
  }

  // Messages: the creator writes, the member reads, states carried forward. First a
  // few epochs go by, so the state holds the past-epoch keys a real member keeps.
  let sender = creator;
  let reader = member;
  for (let i = 0; i < RETAINED_EPOCHS; i++) {
    const update = await buildCommit(cs, sender, {});
    const applied = await processIncoming(cs, reader, update.commit, groupPolicy);
    if (applied.kind !== 'commit') throw new Error('update not applied');
    sender = update.state;
    reader = applied.state;
  }
  let encryptMs = 0;
  let decryptMs = 0;
  const e2eStart = performance.now();
  for (let i = 0; i < messageCount; i++) {
    const plain = encodeApplication({ id: `m${i}`, text: `message number ${i} of the benchmark`, sentAt: Date.now() });
    const t0 = performance.now();
    const out = await encryptApplication(cs, sender, plain);
    const t1 = performance.now();
    sender = out.state;
    const framed = encodeGroupMls(out.message);
    const envelope = decodeGroupEnvelope(framed);
    if (typeof envelope === 'string' || envelope.kind !== 'mls') throw new Error('bad frame');
    const t2 = performance.now();
    const got = await processIncoming(cs, reader, envelope.bytes, groupPolicy);
    const t3 = performance.now();
    if (got.kind !== 'application') throw new Error('not read');
    reader = got.state;
    encryptMs += t1 - t0;
    decryptMs += t3 - t2;
  }
  const endToEnd = (performance.now() - e2eStart) / messageCount;

  const [bytes, tSave] = await timed(async () => encodeState(reader));
  const [, tLoad] = await timed(async () => decodeState(bytes, config));
  const client = await clientCosts(size);
  rows.push({
    size,
    addCommit: median(addCommit),
    addProcess: median(addProcess),
    updateCommit: median(updateCommit),
    updateProcess: median(updateProcess),
    encrypt: encryptMs / messageCount,
    decrypt: decryptMs / messageCount,
    endToEnd,
    stateKb: bytes.length / 1024,
    stateSave: tSave,
    stateLoad: tLoad,
    clientSend: client.send,
    clientReceive: client.receive,
  });
  process.stderr.write(`size ${size} done\n`);
}

const f = (n: number, digits = 1): string => n.toFixed(digits);
console.log(
  `MLS client costs (ts-mls 1.6.4, ${cs.name}; medians of ${reps} commits, means of ${messageCount} messages, ${clientMessageCount} through GroupClient)\n`,
);
console.log(
  '| members | add commit ms | process add ms | update commit ms | process update ms | encrypt ms/msg | decrypt ms/msg | message end to end ms | state KiB | state save / load ms | GroupClient send / receive ms |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.size} | ${f(r.addCommit)} | ${f(r.addProcess)} | ${f(r.updateCommit)} | ${f(r.updateProcess)} | ${f(r.encrypt, 2)} | ${f(r.decrypt, 2)} | ${f(r.endToEnd, 2)} | ${f(r.stateKb)} | ${f(r.stateSave)} / ${f(r.stateLoad)} | ${f(r.clientSend, 2)} / ${f(r.clientReceive, 2)} |`,
  );
}
