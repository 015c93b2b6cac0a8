// The peer link protocol (`parley.peer.v1`): what two nodes say to each other over one
// WebSocket that carries every channel they share. One CBOR map per binary frame.
// This module turns bytes into validated typed frames and back; no I/O. The protocol is
// described in docs/peering.md.
//
//   hello  {t, v, node, key, nonce, dh, rate?}
//                                     both sides, first: who I am, a fresh challenge, a
//                                     fresh X25519 key, and how many messages a second I
//                                     take from a peer
//   proof  {t, sig, mac?}             the other's challenge, signed (and the PEER_KEY
//                                     proven): the dialed side's signature, then the
//                                     dialer's proof, then the dialed side's proof
//   sub    {t, ch, want, have?, s?}   "send me this channel": who wants it behind me, and
//                                     (first time) what I already have, per origin, and
//                                     the number of the stream that answers it
//   unsub  {t, ch}                    nobody behind me wants it any more
//   live   {t, ch, s}                 stream s has sent all I had of ch, and all my other
//                                     peers had when I asked them (or I stopped waiting)
//   msgs   {t, ch, s, e}              messages of stream s, in envelopes (runs of one
//                                     origin's messages, sealed by it: src/envelope/)

import { Decoder, Encoder } from 'cbor-x';
import { nameError } from '../access/names.ts';
import { envelopeFromWire, envelopeToWire, InvalidEnvelope, type Envelope } from '../envelope/envelope.ts';

export const PEER_SUBPROTOCOL = 'parley.peer.v1';
export const PEER_PROTOCOL_VERSION = 3;
/** Longest interest path (hops from here to an interested node) accepted. */
export const MAX_PATH_LENGTH = 32;
/** Interested nodes one `sub` may name. */
export const MAX_WANT = 4096;
/** Origins one `have` may name. */
export const MAX_HAVE = 65536;
/** Messages in one `msgs` frame, over all its envelopes. */
export const MAX_BATCH = 4096;
/**
 * Payload bytes a sender puts in one `msgs` frame (more only for a single message):
 * a receiver takes frames up to this plus two of its largest messages.
 */
export const MAX_FRAME_PAYLOAD = 4 * 1024 * 1024;

/** The largest peer frame a node with this --max-message accepts. */
export function maxPeerFrame(maxPayload: number): number {
  return 2 * MAX_FRAME_PAYLOAD + 2 * maxPayload + 64 * 1024;
}

/** Why a link was closed: the close code, and the reason sent and logged. */
export const PEER_CLOSES = {
  BAD_FRAME: { close: 4400, reason: 'malformed peer frame' },
  BAD_PROOF: { close: 4401, reason: 'handshake proof failed' },
  UNTRUSTED: { close: 4403, reason: 'node not trusted' },
  HANDSHAKE_TIMEOUT: { close: 4408, reason: 'no handshake in time' },
  SELF: { close: 4409, reason: 'connected to itself' },
  DUPLICATE: { close: 4410, reason: 'duplicate link: the nodes are linked already' },
  FORGED: { close: 4422, reason: 'forged message' },
  UNSEALED: { close: 4424, reason: 'run of messages without a seal' },
  OUT_OF_ORDER: { close: 4423, reason: "message skips its origin's sequence" },
  FLOOD: { close: 4429, reason: 'peer sends too fast' },
  TOO_SLOW: { close: 4430, reason: 'peer reads too slowly' },
  STORE_FAILED: { close: 1011, reason: 'store failed; resyncing' },
  REMOVED: { close: 1000, reason: 'peer removed from configuration' },
  SHUTDOWN: { close: 1001, reason: 'node shutting down' },
} as const;
export type PeerCloseCode = keyof typeof PEER_CLOSES;

const NODE_ID = /^[0-9a-f]{32}$/;

export interface HelloFrame {
  readonly t: 'hello';
  readonly v: number;
  readonly node: string;
  /** Raw Ed25519 public key, 32 bytes. */
  readonly key: Uint8Array;
  /** 32 random bytes the other side must sign. */
  readonly nonce: Uint8Array;
  /** Raw X25519 public key, 32 bytes, fresh for this handshake: its secret keys the HMACs. */
  readonly dh: Uint8Array;
  /**
   * Messages per second the sender takes from a peer (its --peer-rate; twice that in a
   * burst); absent or 0: no limit. The other side paces what it sends to stay under it.
   */
  readonly rate?: number;
}
export interface ProofFrame {
  readonly t: 'proof';
  readonly sig: Uint8Array;
  /** HMAC-SHA256 of the transcript with the shared PEER_KEY, when one is set. */
  readonly mac?: Uint8Array;
}
/** Interest paths: each from the sender to a node that uses the channel, sender first. */
export type InterestPath = readonly string[];
export interface SubFrame {
  readonly t: 'sub';
  readonly ch: string;
  readonly want: readonly InterestPath[];
  /** Origin vector: present on the first sub of a channel on this link. */
  readonly have?: ReadonlyMap<string, number>;
  /** With `have`: the number the answering stream tags its `msgs` frames with. */
  readonly s?: number;
}
export interface UnsubFrame {
  readonly t: 'unsub';
  readonly ch: string;
}
export interface MsgsFrame {
  readonly t: 'msgs';
  readonly ch: string;
  /**
   * The stream these belong to. A node that stopped asking for a channel and asked
   * again must not take what the first stream still had on the wire: those messages
   * can run ahead of what it told the second stream it has.
   */
  readonly s: number;
  readonly e: readonly Envelope[];
}
export interface LiveFrame {
  readonly t: 'live';
  readonly ch: string;
  readonly s: number;
}
export type PeerFrame = HelloFrame | ProofFrame | SubFrame | UnsubFrame | MsgsFrame | LiveFrame;

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export function encodePeerFrame(frame: PeerFrame): Buffer {
  switch (frame.t) {
    case 'sub':
      return encoder.encode({
        t: 'sub',
        ch: frame.ch,
        want: frame.want,
        ...(frame.have === undefined ? {} : { have: Object.fromEntries(frame.have), s: frame.s }),
      });
    case 'msgs':
      return encoder.encode({ t: 'msgs', ch: frame.ch, s: frame.s, e: frame.e.map(envelopeToWire) });
    default:
      return encoder.encode(frame);
  }
}

export type Decoded = { readonly ok: true; readonly frame: PeerFrame } | { readonly ok: false; readonly error: string };

class Invalid extends Error {}
function fail(message: string): never {
  throw new Invalid(message);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const count = (v: unknown, what: string): number =>
  Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : fail(`${what} must be an integer >= 0`);
const bytes = (v: unknown, what: string, length?: number): Uint8Array => {
  if (!(v instanceof Uint8Array)) fail(`${what} must be bytes`);
  if (length !== undefined && v.length !== length) fail(`${what} must be ${length} bytes`);
  return v;
};
const nodeId = (v: unknown, what: string): string => (typeof v === 'string' && NODE_ID.test(v) ? v : fail(`${what} must be a node id (32 hex digits)`));
/** A peer's names are held to what a client may send: it relays what clients sent it. */
const name = (v: unknown, what: string): string => {
  const error = nameError(what, v);
  return error === undefined ? (v as string) : fail(error);
};
const channelName = (v: unknown): string => name(v, 'ch');

function path(v: unknown): InterestPath {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_PATH_LENGTH) fail(`each want path must list 1-${MAX_PATH_LENGTH} node ids`);
  return v.map((n) => nodeId(n, 'want path entry'));
}

/** Decodes and validates one frame; `maxPayload` bounds each message's payload. */
export function decodePeerFrame(data: Uint8Array, maxPayload: number): Decoded {
  let raw: unknown;
  try {
    raw = decoder.decode(data);
  } catch {
    return { ok: false, error: 'not CBOR' };
  }
  try {
    if (!isRecord(raw)) fail('a frame must be a CBOR map');
    switch (raw.t) {
      case 'hello': {
        // Another version's hello may lack this one's fields: say which version it is.
        const v = count(raw.v, 'v');
        if (v !== PEER_PROTOCOL_VERSION) fail(`peer protocol version ${v}; this node speaks ${PEER_PROTOCOL_VERSION}`);
        return {
          ok: true,
          frame: {
            t: 'hello',
            v,
            node: nodeId(raw.node, 'node'),
            key: bytes(raw.key, 'key', 32),
            nonce: bytes(raw.nonce, 'nonce', 32),
            dh: bytes(raw.dh, 'dh', 32),
            ...(raw.rate === undefined ? {} : { rate: count(raw.rate, 'rate') }),
          },
        };
      }
      case 'proof':
        return {
          ok: true,
          frame: { t: 'proof', sig: bytes(raw.sig, 'sig', 64), ...(raw.mac === undefined ? {} : { mac: bytes(raw.mac, 'mac', 32) }) },
        };
      case 'sub': {
        if (!Array.isArray(raw.want) || raw.want.length > MAX_WANT) fail(`want must be a list of at most ${MAX_WANT} paths`);
        let have: Map<string, number> | undefined;
        let stream: number | undefined;
        if (raw.have !== undefined) {
          stream = count(raw.s, 's');
          if (!isRecord(raw.have)) fail('have must be a map of node id to origin seq');
          const entries = Object.entries(raw.have);
          if (entries.length > MAX_HAVE) fail(`have names more than ${MAX_HAVE} origins`);
          have = new Map(entries.map(([origin, seq]) => [nodeId(origin, 'have key'), count(seq, 'have value')]));
        }
        return {
          ok: true,
          frame: { t: 'sub', ch: channelName(raw.ch), want: raw.want.map(path), ...(have === undefined ? {} : { have, s: stream! }) },
        };
      }
      case 'unsub':
        return { ok: true, frame: { t: 'unsub', ch: channelName(raw.ch) } };
      case 'live':
        return { ok: true, frame: { t: 'live', ch: channelName(raw.ch), s: count(raw.s, 's') } };
      case 'msgs': {
        if (!Array.isArray(raw.e) || raw.e.length === 0 || raw.e.length > MAX_BATCH) fail(`e must list 1-${MAX_BATCH} envelopes`);
        const limits = { maxPayload, maxMessages: MAX_BATCH, now: Date.now() };
        const envelopes = raw.e.map((e) => envelopeFromWire(e, limits));
        let messages = 0;
        for (const e of envelopes) messages += e.messages.length;
        if (messages > MAX_BATCH) fail(`a msgs frame holds at most ${MAX_BATCH} messages`);
        return { ok: true, frame: { t: 'msgs', ch: channelName(raw.ch), s: count(raw.s, 's'), e: envelopes } };
      }
      default:
        return fail(`unknown frame type ${JSON.stringify(raw.t)}`);
    }
  } catch (error) {
    if (error instanceof Invalid || error instanceof InvalidEnvelope) return { ok: false, error: error.message };
    throw error;
  }
}
