// MLS group costs on the client side (npm run bench:mls [-- --sizes 10,50,100 --reps 5
// --messages 200]): for groups of each size, the time to create a commit that adds one
// member and to process it as another member, the same for a key update, per-message
// encrypt and decrypt, the client's full per-message path (encrypt, frame, unframe,
// decrypt), and the size of a member's saved state (with
// the past epochs' keys it keeps) and the time to save and load it. Everything runs in this process
// through src/group/mls.ts, the adapter the client uses; no node is involved.

import { parseArgs } from 'node:util';
import { MemoryIdentityPins, PinnedAuthenticationService } from '../src/group/credential.ts';
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
  options: { sizes: { type: 'string', default: '10,50,100' }, reps: { type: 'string', default: '5' }, messages: { type: 'string', default: '200' } },
});
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
    if (envelope?.kind !== 'mls') throw new Error('bad frame');
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
  });
  process.stderr.write(`size ${size} done\n`);
}

const f = (n: number, digits = 1): string => n.toFixed(digits);
console.log(`MLS client costs (ts-mls 1.6.4, ${cs.name}; medians of ${reps} commits, means of ${messageCount} messages)\n`);
console.log('| members | add commit ms | process add ms | update commit ms | process update ms | encrypt ms/msg | decrypt ms/msg | message end to end ms | state KiB | state save / load ms |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.size} | ${f(r.addCommit)} | ${f(r.addProcess)} | ${f(r.updateCommit)} | ${f(r.updateProcess)} | ${f(r.encrypt, 2)} | ${f(r.decrypt, 2)} | ${f(r.endToEnd, 2)} | ${f(r.stateKb)} | ${f(r.stateSave)} / ${f(r.stateLoad)} |`,
  );
}
