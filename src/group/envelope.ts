// The byte formats the group layer puts on the relay, other than MLS messages themselves:
// group genesis records and ordered records (their formats are in src/ordering/wire.ts,
// which the node's orderer shares), the plaintext inside application messages, Welcome deliveries,
// directory records and key-package channel records. CBOR arrays with a type tag, so a
// decoder can tell them apart and reject anything else without guessing.

import { Encoder } from 'cbor-x';
import {
  decodeCbor,
  decodeGenesis,
  decodeHandover,
  decodeOrdered,
  TAG_APPLICATION,
  TAG_GENESIS,
  TAG_HANDOVER,
  TAG_ORDERED,
  TAG_SUBMISSION,
  type Genesis,
  type Handover,
  tagged,
  type OrderedRecord,
} from '../ordering/wire.ts';

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });

export type GroupEnvelope =
  | { readonly kind: 'mls'; readonly bytes: Uint8Array }
  | { readonly kind: 'genesis'; readonly genesis: Genesis }
  | { readonly kind: 'submission'; readonly bytes: Uint8Array }
  | { readonly kind: 'ordered'; readonly record: OrderedRecord }
  | { readonly kind: 'handover'; readonly handover: Handover };

/** An application message (commits and proposals go as submissions: encodeSubmission). */
export function encodeGroupMls(bytes: Uint8Array): Uint8Array {
  return tagged(TAG_APPLICATION, bytes);
}

export { encodeGenesis, encodeHandover, encodeSubmission } from '../ordering/wire.ts';


function asBytes(value: unknown): Uint8Array | undefined {
  return value instanceof Uint8Array ? new Uint8Array(value) : undefined;
}

/** A group channel payload, or a string saying why it is none. */
export function decodeGroupEnvelope(payload: Uint8Array): GroupEnvelope | string {
  if (payload.length < 2) return 'too short for a group envelope';
  switch (payload[0]) {
    case TAG_APPLICATION:
      return { kind: 'mls', bytes: payload.subarray(1) };
    case TAG_GENESIS: {
      const genesis = decodeGenesis(payload);
      return typeof genesis === 'string' ? genesis : { kind: 'genesis', genesis };
    }
    case TAG_SUBMISSION:
      return { kind: 'submission', bytes: payload.subarray(1) };
    case TAG_ORDERED: {
      const record = decodeOrdered(payload);
      return record === undefined ? 'malformed ordered record' : { kind: 'ordered', record };
    }
    case TAG_HANDOVER: {
      const handover = decodeHandover(payload);
      return handover === undefined ? 'malformed handover record' : { kind: 'handover', handover };
    }
    default:
      return 'not a group envelope';
  }
}

/** What an application message carries: an id that makes re-sends idempotent. */
export interface ApplicationContent {
  readonly id: string;
  readonly text: string;
  /** The author's clock when the message was written, ms. */
  readonly sentAt: number;
}

export function encodeApplication(content: ApplicationContent): Uint8Array {
  return new Uint8Array(cbor.encode(['text', content.id, content.text, content.sentAt]));
}

export function decodeApplication(bytes: Uint8Array): ApplicationContent | undefined {
  const value = decodeCbor(bytes);
  if (!Array.isArray(value) || value[0] !== 'text') return undefined;
  const [, id, text, sentAt] = value as unknown[];
  if (typeof id !== 'string' || typeof text !== 'string' || typeof sentAt !== 'number') return undefined;
  return { id, text, sentAt };
}

/** A Welcome delivered to an installation's inbox, with where the group starts for it. */
export interface WelcomeDelivery {
  readonly group: string;
  /** The node the adder used, and the seq there of the ordered record that added the installation. */
  readonly node: string;
  readonly commitSeq: number;
  /** The number of that ordered record: the joiner applies the records after it. */
  readonly order: number;
  /** The group's ordering node as the adder knew it (after a handover, not the genesis's). */
  readonly orderer: string;
  readonly welcome: Uint8Array;
}

export function encodeWelcomeDelivery(delivery: WelcomeDelivery): Uint8Array {
  return new Uint8Array(cbor.encode(['welcome', 2, delivery.group, delivery.node, delivery.commitSeq, delivery.order, delivery.orderer, delivery.welcome]));
}

export function decodeWelcomeDelivery(bytes: Uint8Array): WelcomeDelivery | undefined {
  const value = decodeCbor(bytes);
  if (!Array.isArray(value) || value[0] !== 'welcome' || value[1] !== 2) return undefined;
  const [, , group, node, commitSeq, order, orderer, welcome] = value as unknown[];
  const w = asBytes(welcome);
  const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (typeof group !== 'string' || typeof node !== 'string' || typeof orderer !== 'string' || !count(commitSeq) || !count(order) || w === undefined) return undefined;
  return { group, node, commitSeq, order, orderer, welcome: w };
}

/** An installation announcing itself in its uid's directory, signed by its identity key. */
export interface DirectoryRecord {
  readonly installation: string;
  readonly identityKey: Uint8Array;
  readonly signature: Uint8Array;
}

export function directorySignedBytes(uid: string, installation: string, identityKey: Uint8Array): Uint8Array {
  return new Uint8Array(cbor.encode(['parley-mls-directory-v1', uid, installation, identityKey]));
}

export function encodeDirectoryRecord(record: DirectoryRecord): Uint8Array {
  return new Uint8Array(cbor.encode(['installation', 1, record.installation, record.identityKey, record.signature]));
}

export function decodeDirectoryRecord(bytes: Uint8Array): DirectoryRecord | undefined {
  const value = decodeCbor(bytes);
  if (!Array.isArray(value) || value[0] !== 'installation' || value[1] !== 1) return undefined;
  const [, , installation, identityKey, signature] = value as unknown[];
  const key = asBytes(identityKey);
  const sig = asBytes(signature);
  if (typeof installation !== 'string' || key === undefined || sig === undefined) return undefined;
  return { installation, identityKey: key, signature: sig };
}

/** Records of a key-package channel: a new key package, or one that has been used. */
export type KeyPackageRecord = { readonly kind: 'offer'; readonly keyPackage: Uint8Array } | { readonly kind: 'retire'; readonly ref: Uint8Array };

export function encodeKeyPackageRecord(record: KeyPackageRecord): Uint8Array {
  return new Uint8Array(cbor.encode(record.kind === 'offer' ? ['kp-offer', 1, record.keyPackage] : ['kp-retire', 1, record.ref]));
}

export function decodeKeyPackageRecord(bytes: Uint8Array): KeyPackageRecord | undefined {
  const value = decodeCbor(bytes);
  if (!Array.isArray(value) || value[1] !== 1) return undefined;
  const body = asBytes(value[2]);
  if (body === undefined) return undefined;
  if (value[0] === 'kp-offer') return { kind: 'offer', keyPackage: body };
  if (value[0] === 'kp-retire') return { kind: 'retire', ref: body };
  return undefined;
}
