// What parley puts on gossipsub: one sealed envelope (src/envelope/) per gossip message,
// on the topic of its channel. A topic is named after a hash of the channel name, so
// gossip does not show channel names to peers that do not already know them. The
// gossip message id is the envelope's own: a hash of its last message's id (which
// covers every message before it) and its seal. With the seal in it, a copy with a
// broken seal has an id of its own, and cannot make gossipsub drop the real one as
// seen. Computing it means decoding the envelope and hashing every message in it;
// gossipsub asks for the id of every copy a node receives, and in a mesh most are
// copies of what it already has (each neighbour forwards it), so ids are remembered
// by a hash of the bytes: a copy costs one hash, not a decoding. No I/O here.
//
//   topic   /parley/1/ch/<lowercase hex SHA-256 of the channel name's UTF-8 bytes>
//   message CBOR {v: 1, ch, e: envelope}

import { createHash, hash } from 'node:crypto';
import { Decoder, Encoder } from 'cbor-x';
import { nameError } from '../access/names.ts';
import { chainIds, envelopeFromWire, envelopeToWire, InvalidEnvelope, UNSEALED_MESSAGES, type Envelope } from '../envelope/envelope.ts';

export const TOPIC_PREFIX = '/parley/1/ch/';
const VERSION = 1;

export function topicOf(channel: string): string {
  return TOPIC_PREFIX + createHash('sha256').update(channel, 'utf8').digest('hex');
}

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export function encodeGossip(channel: string, envelope: Envelope): Uint8Array {
  return encoder.encode({ v: VERSION, ch: channel, e: envelopeToWire(envelope) });
}

export interface GossipMessage {
  readonly channel: string;
  readonly envelope: Envelope;
  /** The ids of the envelope's messages, computed from its `prev`. */
  readonly ids: readonly Uint8Array[];
}

export type DecodedGossip = { readonly ok: true; readonly message: GossipMessage } | { readonly ok: false; readonly error: string };

export interface GossipLimits {
  readonly maxPayload: number;
}

/** Decodes and checks the shape of a gossip message (not its seal: the intake does that). */
export function decodeGossip(data: Uint8Array, limits: GossipLimits, now = Date.now()): DecodedGossip {
  let raw: unknown;
  try {
    raw = decoder.decode(data);
  } catch {
    return { ok: false, error: 'not CBOR' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: 'a gossip message is a CBOR map' };
  const { v, ch, e } = raw as Record<string, unknown>;
  if (v !== VERSION) return { ok: false, error: `gossip version ${String(v)}; this node speaks ${VERSION}` };
  const channelError = nameError('ch', ch);
  if (channelError !== undefined) return { ok: false, error: channelError };
  try {
    const envelope = envelopeFromWire(e, { maxPayload: limits.maxPayload, maxMessages: UNSEALED_MESSAGES, now });
    if (envelope.seal === undefined) return { ok: false, error: 'a gossiped envelope must be sealed' };
    return { ok: true, message: { channel: ch as string, envelope, ids: chainIds(ch as string, envelope) } };
  } catch (error) {
    if (error instanceof InvalidEnvelope) return { ok: false, error: error.message };
    throw error;
  }
}

/** Gossip message ids remembered by the hash of their bytes, at most: more than gossipsub keeps copies around for at this node's rate. */
const REMEMBERED_IDS = 8192;

/**
 * Remembers what each gossip message decoded to, by the data's identity: gossipsub asks
 * for the message id first, then runs the validator on the same bytes, and decoding
 * and hashing twice would double the cost of every message. Ids are also remembered by
 * a hash of all the bytes, for the copies of a message that neighbours forward (and of
 * what this node published, coming back): the key covers every byte, so only the very
 * same message finds the id, and an altered copy is decoded and gets an id of its own.
 */
export class GossipDecoder {
  readonly #limits: GossipLimits;
  readonly #decodeGossip: typeof decodeGossip;
  readonly #decoded = new WeakMap<Uint8Array, DecodedGossip>();
  readonly #ids = new Map<string, Uint8Array>();

  /** `decode` is for tests that count decodings. */
  constructor(limits: GossipLimits, decode: typeof decodeGossip = decodeGossip) {
    this.#limits = limits;
    this.#decodeGossip = decode;
  }

  decode(data: Uint8Array): DecodedGossip {
    let decoded = this.#decoded.get(data);
    if (decoded === undefined) {
      decoded = this.#decodeGossip(data, this.#limits);
      this.#decoded.set(data, decoded);
    }
    return decoded;
  }

  /** Remembers what this node publishes, so that gossipsub's id of it, or of a copy a peer sends back, costs no decoding. */
  prime(data: Uint8Array, message: GossipMessage): void {
    const decoded: DecodedGossip = { ok: true, message };
    this.#decoded.set(data, decoded);
    this.#remember(bytesKey(data), idOf(decoded, data));
  }

  /** The gossip message id (see above); for garbage, a hash of the bytes (it is rejected anyway). */
  messageId(data: Uint8Array): Uint8Array {
    const known = this.#decoded.get(data);
    if (known !== undefined) return idOf(known, data);
    const key = bytesKey(data);
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = idOf(this.decode(data), data);
      this.#remember(key, id);
    }
    return id;
  }

  #remember(key: string, id: Uint8Array): void {
    if (this.#ids.size >= REMEMBERED_IDS) this.#ids.delete(this.#ids.keys().next().value!);
    this.#ids.set(key, id);
  }
}

function bytesKey(data: Uint8Array): string {
  return hash('sha256', data, 'base64');
}

function idOf(decoded: DecodedGossip, data: Uint8Array): Uint8Array {
  if (!decoded.ok) return createHash('sha256').update(data).digest();
  return createHash('sha256').update(decoded.message.ids.at(-1)!).update(decoded.message.envelope.seal!).digest();
}
