// The records of a group channel that decide the order of its commits, shared by the
// node that orders a group (src/ordering/orderer.ts) and its members (src/group/sync.ts).
// Every payload of a group channel starts with a tag byte:
//
// - 0x00 an MLS application message: read by members in whatever order the node has it;
// - 0x01 the genesis: the group id and the node id of the group's ordering node;
// - 0x02 a submission: an MLS commit or proposal, asking the ordering node to order it;
// - 0x03 an ordered record: the ordering node's signed statement "the n-th handshake
//   message of this group is this submission, after the record whose hash is prev";
// - 0x04 a handover: the group's admin's signed statement "after record n (this hash),
//   this other node orders the group", for when the ordering node is gone for good.
//
// Members apply commits and proposals only from ordered records, in their numbers'
// order, so every member applies the same sequence whatever order its node stores the
// channel in. The ordering node cannot read a submission; it only numbers it.

import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { Decoder, Encoder } from 'cbor-x';
import { nodeIdOfRaw, publicKeyFromRaw, rawPublicKey } from '../identity/node-identity.ts';

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });
const cborDecoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export const TAG_APPLICATION = 0x00;
export const TAG_GENESIS = 0x01;
export const TAG_SUBMISSION = 0x02;
export const TAG_ORDERED = 0x03;
export const TAG_HANDOVER = 0x04;

/** The prev of the first ordered record. */
export const NO_PREVIOUS = new Uint8Array(32);

export interface Genesis {
  readonly groupId: Uint8Array;
  /** Node id (32 hex digits) of the node that orders the group's commits. */
  readonly orderer: string;
  /** The raw Ed25519 identity key of the group's admin (its creator): it may hand the role over. */
  readonly admin: Uint8Array;
}

export interface Handover {
  readonly groupId: Uint8Array;
  /** The last ordered record of the old ordering node that counts, and its hash. */
  readonly afterN: number;
  readonly afterHash: Uint8Array;
  /** Node id of the new ordering node. */
  readonly orderer: string;
  /** The admin's signature (Ed25519, identity key) over handoverSignedBytes. */
  readonly signature: Uint8Array;
}

export interface OrderedRecord {
  readonly groupId: Uint8Array;
  /** 1 for the group's first handshake message, then one more each. */
  readonly n: number;
  /** The hash of the record numbered n - 1 (its `hash`), or NO_PREVIOUS. */
  readonly prev: Uint8Array;
  /** The submission payload as the member published it (tag 0x02 included). */
  readonly submission: Uint8Array;
  /** The ordering node's raw Ed25519 public key; its node id must be the genesis's orderer. */
  readonly key: Uint8Array;
  readonly signature: Uint8Array;
}

/** `body` with a type tag byte in front: how every group record starts. */
export function tagged(tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

/** A record's CBOR, or undefined for bytes that are not CBOR. */
export function decodeCbor(bytes: Uint8Array): unknown {
  try {
    return cborDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

function asBytes(value: unknown, length?: number): Uint8Array | undefined {
  if (!(value instanceof Uint8Array)) return undefined;
  if (length !== undefined && value.length !== length) return undefined;
  return new Uint8Array(value);
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

const NODE_ID = /^[0-9a-f]{32}$/;

export function encodeGenesis(genesis: Genesis): Uint8Array {
  return tagged(TAG_GENESIS, cbor.encode(['genesis', 2, genesis.groupId, genesis.orderer, genesis.admin]));
}

/** A genesis record, or a string saying what is wrong with it. */
export function decodeGenesis(payload: Uint8Array): Genesis | string {
  if (payload[0] !== TAG_GENESIS) return 'not a genesis record';
  const value = decodeCbor(payload.subarray(1));
  if (!Array.isArray(value) || value[0] !== 'genesis') return 'not a genesis record';
  if (value[1] === 1) return 'a group created before groups had an ordering node: create it again under another name';
  if (value[1] !== 2) return `genesis version ${String(value[1])} is not known`;
  const groupId = asBytes(value[2]);
  const orderer = value[3];
  const admin = asBytes(value[4], 32);
  if (groupId === undefined || typeof orderer !== 'string' || !NODE_ID.test(orderer) || admin === undefined) return 'malformed genesis record';
  return { groupId, orderer, admin };
}

export function encodeSubmission(mls: Uint8Array): Uint8Array {
  return tagged(TAG_SUBMISSION, mls);
}

/** The MLS message inside a submission, or undefined. */
export function submissionContent(payload: Uint8Array): Uint8Array | undefined {
  return payload.length > 1 && payload[0] === TAG_SUBMISSION ? payload.subarray(1) : undefined;
}

/** What the ordering node signs, and what the next record's prev is the hash of. */
export function orderedSignedBytes(groupId: Uint8Array, n: number, prev: Uint8Array, submission: Uint8Array): Uint8Array {
  return new Uint8Array(cbor.encode(['parley-mls-order-v1', groupId, n, prev, sha256(submission)]));
}

/** The hash that names a record in its successor's prev. */
export function orderedHash(record: Pick<OrderedRecord, 'groupId' | 'n' | 'prev' | 'submission'>): Uint8Array {
  return sha256(orderedSignedBytes(record.groupId, record.n, record.prev, record.submission));
}

export function signOrdered(
  fields: Pick<OrderedRecord, 'groupId' | 'n' | 'prev' | 'submission'>,
  privateKey: KeyObject,
  publicKey: KeyObject,
): OrderedRecord {
  const signature = new Uint8Array(sign(null, orderedSignedBytes(fields.groupId, fields.n, fields.prev, fields.submission), privateKey));
  return { ...fields, key: rawPublicKey(publicKey), signature };
}

export function encodeOrdered(record: OrderedRecord): Uint8Array {
  return tagged(TAG_ORDERED, cbor.encode(['ordered', 1, record.groupId, record.n, record.prev, record.submission, record.key, record.signature]));
}

export function decodeOrdered(payload: Uint8Array): OrderedRecord | undefined {
  if (payload[0] !== TAG_ORDERED) return undefined;
  const value = decodeCbor(payload.subarray(1));
  if (!Array.isArray(value) || value[0] !== 'ordered' || value[1] !== 1) return undefined;
  const [, , groupIdValue, n, prevValue, submissionValue, keyValue, signatureValue] = value as unknown[];
  const groupId = asBytes(groupIdValue);
  const prev = asBytes(prevValue, 32);
  const submission = asBytes(submissionValue);
  const key = asBytes(keyValue, 32);
  const signature = asBytes(signatureValue, 64);
  if (groupId === undefined || prev === undefined || submission === undefined || key === undefined || signature === undefined) return undefined;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) return undefined;
  if (submissionContent(submission) === undefined) return undefined;
  return { groupId, n, prev, submission, key, signature };
}

/** Whether the record is signed by the key of node `orderer`. */
export function verifyOrdered(record: OrderedRecord, orderer: string): boolean {
  if (nodeIdOfRaw(record.key) !== orderer) return false;
  try {
    return verify(null, orderedSignedBytes(record.groupId, record.n, record.prev, record.submission), publicKeyFromRaw(record.key), record.signature);
  } catch {
    return false;
  }
}

export function handoverSignedBytes(groupId: Uint8Array, afterN: number, afterHash: Uint8Array, orderer: string): Uint8Array {
  return new Uint8Array(cbor.encode(['parley-mls-handover-v1', groupId, afterN, afterHash, orderer]));
}

export function encodeHandover(handover: Handover): Uint8Array {
  return tagged(TAG_HANDOVER, cbor.encode(['handover', 1, handover.groupId, handover.afterN, handover.afterHash, handover.orderer, handover.signature]));
}

export function decodeHandover(payload: Uint8Array): Handover | undefined {
  if (payload[0] !== TAG_HANDOVER) return undefined;
  const value = decodeCbor(payload.subarray(1));
  if (!Array.isArray(value) || value[0] !== 'handover' || value[1] !== 1) return undefined;
  const [, , groupIdValue, afterN, afterHashValue, orderer, signatureValue] = value as unknown[];
  const groupId = asBytes(groupIdValue);
  const afterHash = asBytes(afterHashValue, 32);
  const signature = asBytes(signatureValue, 64);
  if (groupId === undefined || afterHash === undefined || signature === undefined) return undefined;
  if (typeof afterN !== 'number' || !Number.isSafeInteger(afterN) || afterN < 0) return undefined;
  if (typeof orderer !== 'string' || !NODE_ID.test(orderer)) return undefined;
  return { groupId, afterN, afterHash, orderer, signature };
}

/** Whether the handover is signed by the admin the genesis names. */
export function verifyHandover(handover: Handover, admin: Uint8Array): boolean {
  try {
    return verify(null, handoverSignedBytes(handover.groupId, handover.afterN, handover.afterHash, handover.orderer), publicKeyFromRaw(admin), handover.signature);
  } catch {
    return false;
  }
}
