// The one module that talks to ts-mls (pinned 1.6.4): everything else in src/group sees
// bytes and the small types below, so a later ts-mls (2.x changes the API) touches only
// this file. It never zeroes the `consumed` secrets ts-mls hands back: a published
// commit stays pending until the channel decides, and wiping the old epoch's secrets
// would break processing a competing commit ("Could not verify confirmation tag").
// (About 425 lines: the whole of the ts-mls surface, kept in one file on purpose.)

import { Decoder as CborDecoder, Encoder as CborEncoder } from 'cbor-x';
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  createProposal,
  decodeGroupState,
  decodeMlsMessage,
  defaultCapabilities,
  defaultKeyPackageEqualityConfig,
  defaultLifetime,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  processPrivateMessage,
} from 'ts-mls';
import type {
  AuthenticationService,
  CiphersuiteImpl,
  ClientConfig,
  ClientState,
  Credential,
  IncomingMessageAction,
  IncomingMessageCallback,
  KeyPackage,
  PrivateKeyPackage,
  PrivateMessage,
  Proposal,
} from 'ts-mls';
import { encode } from 'ts-mls/codec/tlsEncoder.js';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { decryptSenderData } from 'ts-mls/privateMessage.js';
import { decodeSecretTreeNode, secretTreeNodeEncoder, type SecretTree } from 'ts-mls/secretTree.js';

export type { CiphersuiteImpl, Credential };

/** A group's MLS state. Opaque outside this module. */
export type MlsGroupState = ClientState;

const SUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' as const;
/**
 * Past epochs whose keys a member keeps, to read messages encrypted before commits it has
 * applied since: one written just before a commit, or on the other side of a partition
 * while this side moved on (each epoch is a membership change or key update someone ran).
 * Each kept epoch holds its ratchet and secret trees, about 0.5 KiB per member, in the
 * saved state that every commit rewrites: at 100 members a state is ~480 KiB with 8
 * (~213 KiB with 3); 16 would make it ~900 KiB and each command's load ~4 times slower.
 */
export const RETAINED_EPOCHS = 8;

let suitePromise: Promise<CiphersuiteImpl> | undefined;
export function loadSuite(): Promise<CiphersuiteImpl> {
  suitePromise ??= getCiphersuiteImpl(getCiphersuiteFromName(SUITE));
  return suitePromise;
}

export function clientConfig(authService: AuthenticationService): ClientConfig {
  return {
    keyRetentionConfig: { retainKeysForGenerations: 10, retainKeysForEpochs: RETAINED_EPOCHS, maximumForwardRatchetSteps: 1000 },
    lifetimeConfig: defaultLifetimeConfig,
    keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
    paddingConfig: defaultPaddingConfig,
    authService,
  };
}

const cbor = new CborEncoder({ useRecords: false, mapsAsObjects: true });
const cborDecoder = new CborDecoder({ useRecords: false, mapsAsObjects: true });

// ---- key packages ----------------------------------------------------------------

export interface KeyPackageMaterial {
  /** The MLSMessage-framed key package, as published. */
  readonly publicBytes: Uint8Array;
  readonly privateBytes: Uint8Array;
  /** KeyPackageRef: how a Welcome names the key package it is for. */
  readonly ref: Uint8Array;
}

export async function createKeyPackage(
  cs: CiphersuiteImpl,
  credential: Credential,
  signatureKeys: { signKey: Uint8Array; publicKey: Uint8Array },
): Promise<KeyPackageMaterial> {
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(credential, defaultCapabilities(), defaultLifetime, [], signatureKeys, cs);
  const publicBytes = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: publicPackage });
  const privateBytes = new Uint8Array(cbor.encode([privatePackage.initPrivateKey, privatePackage.hpkePrivateKey, privatePackage.signaturePrivateKey]));
  return { publicBytes, privateBytes, ref: await makeKeyPackageRef(publicPackage, cs.hash) };
}

export function decodeKeyPackage(bytes: Uint8Array): KeyPackage | undefined {
  try {
    const message = decodeMlsMessage(bytes, 0)?.[0];
    return message?.wireformat === 'mls_key_package' ? message.keyPackage : undefined;
  } catch {
    return undefined;
  }
}

function decodePrivateKeyPackage(bytes: Uint8Array): PrivateKeyPackage {
  const [initPrivateKey, hpkePrivateKey, signaturePrivateKey] = cborDecoder.decode(bytes) as Uint8Array[];
  return { initPrivateKey: initPrivateKey!, hpkePrivateKey: hpkePrivateKey!, signaturePrivateKey: signaturePrivateKey! };
}

export function keyPackageCredential(keyPackage: KeyPackage): Credential {
  return keyPackage.leafNode.credential;
}

export async function keyPackageRef(cs: CiphersuiteImpl, keyPackage: KeyPackage): Promise<Uint8Array> {
  return makeKeyPackageRef(keyPackage, cs.hash);
}

// ---- groups -------------------------------------------------------------------

export async function createGroupState(cs: CiphersuiteImpl, groupId: Uint8Array, own: KeyPackageMaterial, config: ClientConfig): Promise<MlsGroupState> {
  const keyPackage = decodeKeyPackage(own.publicBytes);
  if (keyPackage === undefined) throw new TypeError('not a key package');
  return createGroup(groupId, keyPackage, decodePrivateKeyPackage(own.privateBytes), [], cs, config);
}

export function encodeState(state: MlsGroupState): Uint8Array {
  return encodeGroupState(state);
}

export function decodeState(bytes: Uint8Array, config: ClientConfig): MlsGroupState {
  const decoded = decodeGroupState(bytes, 0)?.[0];
  if (decoded === undefined) throw new TypeError('unreadable group state');
  return { ...decoded, clientConfig: config };
}

// ---- ratchet changes: the small part of a state that messages change ----------------
//
// Sending or reading an application message changes nothing in a group state but one node
// of a secret tree (the sender's ratchet: its secret and generation), either the current
// epoch's or a kept past epoch's. ts-mls 1.6.4 never changes a state in place (it copies
// the tree with slice() and replaces the one node), so comparing object identities finds
// the changed nodes exactly; any other difference means the whole state must be saved.

/** One secret-tree node that differs from the saved state, encoded. */
export interface RatchetNode {
  readonly epoch: bigint;
  readonly node: number;
  readonly bytes: Uint8Array;
}

const encodeTreeNode = encode(secretTreeNodeEncoder);

function treeChanges(epoch: bigint, before: SecretTree, after: SecretTree, out: RatchetNode[]): boolean {
  if (before === after) return true;
  if (before.length !== after.length) return false;
  after.forEach((node, index) => {
    if (node !== before[index]) out.push({ epoch, node: index, bytes: encodeTreeNode(node) });
  });
  return true;
}

/**
 * The secret-tree nodes `after` changed relative to `before`, or undefined when anything
 * else changed too (a commit, a proposal, a new epoch): then only a whole save will do.
 */
export function ratchetChanges(before: MlsGroupState, after: MlsGroupState): RatchetNode[] | undefined {
  if (before === after) return [];
  for (const key of Object.keys(after) as Array<keyof MlsGroupState>) {
    if (key !== 'secretTree' && key !== 'historicalReceiverData' && before[key] !== after[key]) return undefined;
  }
  const out: RatchetNode[] = [];
  if (!treeChanges(after.groupContext.epoch, before.secretTree, after.secretTree, out)) return undefined;
  const was = before.historicalReceiverData;
  const now = after.historicalReceiverData;
  if (was === now) return out;
  if (was.size !== now.size) return undefined;
  for (const [epoch, data] of now) {
    const old = was.get(epoch);
    if (old === undefined) return undefined;
    if (old === data) continue;
    for (const key of Object.keys(data) as Array<keyof typeof data>) if (key !== 'secretTree' && old[key] !== data[key]) return undefined;
    if (!treeChanges(epoch, old.secretTree, data.secretTree, out)) return undefined;
  }
  return out;
}

/**
 * A saved state with the nodes saved since laid over it. Every node must belong to the
 * state's epoch or a past epoch it keeps: they are written after the whole state and
 * dropped whenever it is written again.
 */
export function withRatchetNodes(state: MlsGroupState, nodes: readonly RatchetNode[]): MlsGroupState {
  if (nodes.length === 0) return state;
  const trees = new Map<bigint, SecretTree>();
  for (const { epoch, node, bytes } of nodes) {
    const source = epoch === state.groupContext.epoch ? state.secretTree : state.historicalReceiverData.get(epoch)?.secretTree;
    if (source === undefined || node >= source.length) throw new TypeError(`saved ratchet for epoch ${epoch} node ${node} does not fit the group state`);
    const decoded = decodeSecretTreeNode(bytes, 0)?.[0];
    if (decoded === undefined) throw new TypeError('unreadable saved ratchet');
    let tree = trees.get(epoch);
    if (tree === undefined) trees.set(epoch, (tree = source.slice()));
    tree[node] = decoded;
  }
  const historicalReceiverData = new Map(state.historicalReceiverData);
  for (const [epoch, tree] of trees) {
    const past = historicalReceiverData.get(epoch);
    if (past !== undefined && epoch !== state.groupContext.epoch) historicalReceiverData.set(epoch, { ...past, secretTree: tree });
  }
  return { ...state, secretTree: trees.get(state.groupContext.epoch) ?? state.secretTree, historicalReceiverData };
}

export function epochOf(state: MlsGroupState): bigint {
  return state.groupContext.epoch;
}

export function groupIdOf(state: MlsGroupState): Uint8Array {
  return state.groupContext.groupId;
}

export function ownLeaf(state: MlsGroupState): number {
  return state.privatePath.leafIndex;
}

export function isActive(state: MlsGroupState): boolean {
  return state.groupActiveState.kind === 'active';
}

export interface Leaf {
  readonly leaf: number;
  readonly credential: Credential;
}

/** Occupied leaves in leaf order. */
export function leaves(state: MlsGroupState): Leaf[] {
  const out: Leaf[] = [];
  state.ratchetTree.forEach((node, nodeIndex) => {
    if (node?.nodeType === 'leaf') out.push({ leaf: nodeIndex / 2, credential: node.leaf.credential });
  });
  return out;
}

function credentialAt(tree: MlsGroupState['ratchetTree'], leaf: number): Credential | undefined {
  const node = tree[leaf * 2];
  return node?.nodeType === 'leaf' ? node.leaf.credential : undefined;
}

export interface CommitChanges {
  readonly add?: readonly KeyPackage[];
  readonly remove?: readonly number[];
}

export interface BuiltCommit {
  readonly commit: Uint8Array;
  readonly welcome: Uint8Array | undefined;
  readonly state: MlsGroupState;
}

/** A commit with these changes plus any pending proposals; no changes = a key update. */
export async function buildCommit(cs: CiphersuiteImpl, state: MlsGroupState, changes: CommitChanges): Promise<BuiltCommit> {
  const extraProposals: Proposal[] = [
    ...(changes.remove ?? []).map((removed): Proposal => ({ proposalType: 'remove', remove: { removed } })),
    ...(changes.add ?? []).map((keyPackage): Proposal => ({ proposalType: 'add', add: { keyPackage } })),
  ];
  const result = await createCommit({ state, cipherSuite: cs }, { extraProposals, ratchetTreeExtension: true });
  return {
    commit: encodeMlsMessage(result.commit),
    welcome: result.welcome === undefined ? undefined : encodeMlsMessage({ version: 'mls10', wireformat: 'mls_welcome', welcome: result.welcome }),
    state: result.newState,
  };
}

export async function proposeSelfRemoval(cs: CiphersuiteImpl, state: MlsGroupState): Promise<{ message: Uint8Array; state: MlsGroupState }> {
  const result = await createProposal(state, false, { proposalType: 'remove', remove: { removed: ownLeaf(state) } }, cs);
  return { message: encodeMlsMessage(result.message), state: result.newState };
}

/** The key package refs a Welcome carries secrets for. */
export function welcomeRecipients(bytes: Uint8Array): Uint8Array[] | undefined {
  try {
    const message = decodeMlsMessage(bytes, 0)?.[0];
    return message?.wireformat === 'mls_welcome' ? message.welcome.secrets.map((s) => s.newMember) : undefined;
  } catch {
    return undefined;
  }
}

export async function joinFromWelcome(cs: CiphersuiteImpl, welcomeBytes: Uint8Array, own: KeyPackageMaterial, config: ClientConfig): Promise<MlsGroupState> {
  const message = decodeMlsMessage(welcomeBytes, 0)?.[0];
  if (message?.wireformat !== 'mls_welcome') throw new TypeError('not a Welcome');
  const keyPackage = decodeKeyPackage(own.publicBytes);
  if (keyPackage === undefined) throw new TypeError('not a key package');
  return joinGroup(message.welcome, keyPackage, decodePrivateKeyPackage(own.privateBytes), emptyPskIndex, cs, undefined, undefined, config);
}

export async function encryptApplication(cs: CiphersuiteImpl, state: MlsGroupState, plaintext: Uint8Array): Promise<{ message: Uint8Array; state: MlsGroupState }> {
  const result = await createApplicationMessage(state, plaintext, cs);
  return {
    message: encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: result.privateMessage }),
    state: result.newState,
  };
}

// ---- incoming ---------------------------------------------------------------------

export interface EnvelopeInfo {
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly contentType: 'application' | 'proposal' | 'commit';
}

function privateMessageOf(bytes: Uint8Array): PrivateMessage | undefined {
  try {
    const message = decodeMlsMessage(bytes, 0)?.[0];
    return message?.wireformat === 'mls_private_message' ? message.privateMessage : undefined;
  } catch {
    return undefined;
  }
}

/** The clear header of a group message, or undefined for bytes that are not one. */
export function envelopeInfo(bytes: Uint8Array): EnvelopeInfo | undefined {
  const pm = privateMessageOf(bytes);
  return pm === undefined ? undefined : { groupId: pm.groupId, epoch: pm.epoch, contentType: pm.contentType };
}

/** Why an incoming message was not applied. */
export type IncomingProblem =
  | 'garbage' // not an MLS private message
  | 'wrong-group'
  | 'future-epoch'
  | 'stale-commit' // a handshake message for an epoch that is over
  | 'too-old' // an application message whose epoch's keys are gone
  | 'undecryptable' // bad sender data or tag, a replayed generation, a blank sender leaf
  | 'rejected' // our commit policy said no
  | 'invalid'; // ts-mls validation failed (credentials, signatures, tree)

export type Incoming =
  | { readonly kind: 'application'; readonly sender: Credential; readonly senderLeaf: number; readonly data: Uint8Array; readonly state: MlsGroupState }
  | { readonly kind: 'commit'; readonly sender: Credential; readonly senderLeaf: number; readonly removed: readonly Credential[]; readonly added: readonly Credential[]; readonly state: MlsGroupState }
  | { readonly kind: 'proposal'; readonly sender: Credential; readonly senderLeaf: number; readonly removes: readonly number[]; readonly state: MlsGroupState }
  | { readonly kind: 'skipped'; readonly problem: IncomingProblem; readonly detail: string };

/** Decides whether a commit's proposals are acceptable (see policy.ts). */
export type CommitPolicy = (kind: 'commit' | 'proposal', proposals: readonly Proposal[], senderLeaf: number | undefined) => boolean;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Applies one group message to a state. Never throws for bad input: what went wrong is a
 * `skipped` result with a problem code, and the caller's state stays as it was.
 */
export async function processIncoming(cs: CiphersuiteImpl, state: MlsGroupState, bytes: Uint8Array, policy: CommitPolicy): Promise<Incoming> {
  const pm = privateMessageOf(bytes);
  if (pm === undefined) return { kind: 'skipped', problem: 'garbage', detail: 'not an MLS private message' };
  if (!sameBytes(pm.groupId, state.groupContext.groupId)) return { kind: 'skipped', problem: 'wrong-group', detail: 'group id differs' };
  const current = state.groupContext.epoch;
  if (pm.epoch > current) return { kind: 'skipped', problem: 'future-epoch', detail: `epoch ${pm.epoch} > ${current}` };
  if (pm.epoch < current && pm.contentType !== 'application') return { kind: 'skipped', problem: 'stale-commit', detail: `${pm.contentType} for epoch ${pm.epoch} < ${current}` };
  const past = pm.epoch < current ? state.historicalReceiverData.get(pm.epoch) : undefined;
  if (pm.epoch < current && past === undefined) return { kind: 'skipped', problem: 'too-old', detail: `epoch ${pm.epoch} keys no longer kept` };

  // ts-mls 1.6.4 does not report an application message's sender. The sender data is
  // decrypted here (stateless: it needs only the epoch's sender-data secret); the same
  // leaf index is then used by processPrivateMessage to verify the signature, so a
  // successful process authenticates it.
  let senderLeaf: number;
  try {
    const senderData = await decryptSenderData(pm, past?.senderDataSecret ?? state.keySchedule.senderDataSecret, cs);
    if (senderData === undefined) return { kind: 'skipped', problem: 'undecryptable', detail: 'sender data unreadable' };
    senderLeaf = senderData.leafIndex;
  } catch (error) {
    return { kind: 'skipped', problem: 'undecryptable', detail: `sender data: ${(error as Error).message}` };
  }
  const tree = past?.ratchetTree ?? state.ratchetTree;
  const sender = credentialAt(tree, senderLeaf);
  if (sender === undefined) return { kind: 'skipped', problem: 'undecryptable', detail: `no member at leaf ${senderLeaf}` };

  let committed: Proposal[] = [];
  const callback: IncomingMessageCallback = (incoming): IncomingMessageAction => {
    if (incoming.kind === 'proposal') return policy('proposal', [incoming.proposal.proposal], incoming.proposal.senderLeafIndex) ? 'accept' : 'reject';
    committed = incoming.proposals.map((p) => p.proposal);
    return policy('commit', committed, incoming.senderLeafIndex) ? 'accept' : 'reject';
  };
  let result;
  try {
    result = await processPrivateMessage(state, pm, emptyPskIndex, cs, callback);
  } catch (error) {
    const detail = (error as Error).message;
    const problem: IncomingProblem = /decrypt|aead|tag|generation|ratchet|senderdata|non-blank/i.test(detail) ? 'undecryptable' : 'invalid';
    return { kind: 'skipped', problem, detail };
  }
  if (result.kind === 'applicationMessage') return { kind: 'application', sender, senderLeaf, data: result.message, state: result.newState };
  if (result.actionTaken === 'reject') return { kind: 'skipped', problem: 'rejected', detail: `${pm.contentType} refused by policy` };
  if (pm.contentType === 'proposal') {
    const removes = Object.values(result.newState.unappliedProposals)
      .filter((p) => p.proposal.proposalType === 'remove')
      .map((p) => (p.proposal.proposalType === 'remove' ? p.proposal.remove.removed : -1));
    return { kind: 'proposal', sender, senderLeaf, removes, state: result.newState };
  }
  const removed = committed.flatMap((p) => (p.proposalType === 'remove' ? [credentialAt(state.ratchetTree, p.remove.removed)].filter((c) => c !== undefined) : []));
  const added = committed.flatMap((p) => (p.proposalType === 'add' ? [p.add.keyPackage.leafNode.credential] : []));
  return { kind: 'commit', sender, senderLeaf, removed, added, state: result.newState };
}

/**
 * The state to continue with when our own pending commit wins. The pending state was
 * built from the epoch's state at commit time; messages read in that epoch since then
 * advanced the current state's receiving ratchets, so its copy of the old epoch's
 * secret tree replaces the pending one (a replayed message then stays unreadable).
 */
export function adoptPendingCommit(pending: MlsGroupState, current: MlsGroupState): MlsGroupState {
  const epoch = current.groupContext.epoch;
  const kept = pending.historicalReceiverData.get(epoch);
  if (kept === undefined) return pending;
  const historicalReceiverData = new Map(pending.historicalReceiverData);
  historicalReceiverData.set(epoch, { ...kept, secretTree: current.secretTree });
  return { ...pending, historicalReceiverData };
}

/** Whether this state can still read an application message of that epoch. */
export function canRead(state: MlsGroupState, epoch: bigint): boolean {
  return epoch === state.groupContext.epoch || state.historicalReceiverData.has(epoch);
}
