// The network's directory of public channels, with no central server: each node that
// marks a channel public (--public, or a native client with the right DIRECTORY_KEY
// gives) announces it on one gossip topic, every minute, in an announcement it signs;
// every node keeps the newest announcement of each channel and node it has checked, and
// forgets those not renewed for an hour. A node that stops listing a channel announces
// that too (`gone`), so the others drop it at once instead of within the hour; a gone
// announcement is signed under another domain, so a listing cannot be replayed as one or
// the other way round. GET /v1/directory lists them. Names are not unique: the
// announcing node's id says who claims what.
//
//   topic         /parley/1/directory
//   announcement  CBOR {v: 1, ch, about, key, ts, last, sig}
//                 sig: Ed25519 over SHA-256("parley-directory-v1" | ch | about | ts | last)
//   withdrawal    CBOR {v: 1, ch, about: "", key, ts, last: 0, gone: true, sig}
//                 sig: Ed25519 over SHA-256("parley-directory-gone-v1" | ch | about | ts | last)

import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { Decoder, Encoder } from 'cbor-x';
import { nameError } from '../access/names.ts';
import { MAX_ABOUT_LENGTH } from '../native/frames.ts';
import { nodeIdOfRaw, publicKeyFromRaw, rawPublicKey, type NodeIdentity } from '../identity/node-identity.ts';

export const DIRECTORY_TOPIC = '/parley/1/directory';
/** How often a node announces its public channels, and how long an announcement lasts. */
export const ANNOUNCE_EVERY_MS = 60_000;
export const ANNOUNCEMENT_LIFETIME_MS = 60 * 60_000;
/** Longest description (a native client's `public` frame is held to the same). */
export const MAX_ABOUT = MAX_ABOUT_LENGTH;
/** Entries kept at most (a flood of made-up channels cannot grow the table for ever). */
const MAX_ENTRIES = 10_000;

export interface PublicChannel {
  readonly channel: string;
  readonly about: string;
}

export interface DirectoryEntry {
  readonly channel: string;
  readonly about: string;
  /** The announcing node's id. */
  readonly node: string;
  /** When the node last announced it (its clock, ms). */
  readonly announced: number;
  /** Its newest message's time on the announcing node, or 0 for none yet. */
  readonly lastActivity: number;
}

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

const LISTED_DOMAIN = 'parley-directory-v1';
const GONE_DOMAIN = 'parley-directory-gone-v1';

function digest(domain: string, channel: string, about: string, ts: number, last: number): Buffer {
  const part = (text: string) => {
    const bytes = Buffer.from(text, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return [length, bytes];
  };
  const numbers = Buffer.alloc(16);
  numbers.writeDoubleBE(ts, 0);
  numbers.writeDoubleBE(last, 8);
  return createHash('sha256')
    .update(Buffer.concat([...part(domain), ...part(channel), ...part(about), numbers]))
    .digest();
}

export function encodeAnnouncement(identity: NodeIdentity, channel: PublicChannel, ts: number, last: number): Uint8Array {
  const sig = sign(null, digest(LISTED_DOMAIN, channel.channel, channel.about, ts, last), identity.privateKey);
  return encoder.encode({ v: 1, ch: channel.channel, about: channel.about, key: rawPublicKey(identity.publicKey), ts, last, sig });
}

/** This node no longer lists `channel`, as of `ts`. */
export function encodeWithdrawal(identity: NodeIdentity, channel: string, ts: number): Uint8Array {
  const sig = sign(null, digest(GONE_DOMAIN, channel, '', ts, 0), identity.privateKey);
  return encoder.encode({ v: 1, ch: channel, about: '', key: rawPublicKey(identity.publicKey), ts, last: 0, gone: true, sig });
}

/** `gone`: the node withdrew the channel at `entry.announced`. */
export type CheckedAnnouncement = { readonly ok: true; readonly entry: DirectoryEntry; readonly gone: boolean } | { readonly ok: false; readonly error: string };

/** Decodes an announcement and checks its signature; `now` bounds its time. */
export function checkAnnouncement(data: Uint8Array, now: number, keys: Map<string, KeyObject> = new Map()): CheckedAnnouncement {
  let raw: unknown;
  try {
    raw = decoder.decode(data);
  } catch {
    return { ok: false, error: 'not CBOR' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: 'an announcement is a CBOR map' };
  const { v, ch, about, key, ts, last, sig, gone } = raw as Record<string, unknown>;
  if (v !== 1) return { ok: false, error: `announcement version ${String(v)}` };
  if (gone !== undefined && gone !== true) return { ok: false, error: 'gone must be true or absent' };
  const channelError = nameError('ch', ch);
  if (channelError !== undefined) return { ok: false, error: channelError };
  if (typeof about !== 'string' || about.length > MAX_ABOUT) return { ok: false, error: `about must be text of at most ${MAX_ABOUT} characters` };
  if (!(key instanceof Uint8Array) || key.length !== 32) return { ok: false, error: 'key must be 32 bytes' };
  if (!(sig instanceof Uint8Array) || sig.length !== 64) return { ok: false, error: 'sig must be 64 bytes' };
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts > now + 10 * 60_000 || ts < now - ANNOUNCEMENT_LIFETIME_MS) return { ok: false, error: 'ts is not a time of the last hour' };
  if (typeof last !== 'number' || !Number.isSafeInteger(last) || last < 0 || last > ts + 10 * 60_000) return { ok: false, error: 'last must be a time no later than ts' };
  const node = nodeIdOfRaw(key);
  let publicKey = keys.get(node);
  if (publicKey === undefined) {
    try {
      publicKey = publicKeyFromRaw(key);
    } catch {
      return { ok: false, error: 'key is not an Ed25519 public key' };
    }
    if (keys.size < MAX_ENTRIES) keys.set(node, publicKey);
  }
  if (!verify(null, digest(gone === true ? GONE_DOMAIN : LISTED_DOMAIN, ch as string, about, ts, last), publicKey, sig)) return { ok: false, error: 'bad signature' };
  return { ok: true, entry: { channel: ch as string, about, node, announced: ts, lastActivity: last }, gone: gone === true };
}

interface HeldEntry extends DirectoryEntry {
  /** Withdrawn at `announced`: kept (not listed) so that an older listing coming late does not list it again. */
  readonly gone: boolean;
}

/** The entries a node has seen, newest announcement per channel and node. */
export class Directory {
  readonly #entries = new Map<string, HeldEntry>();
  readonly #keys = new Map<string, KeyObject>();

  /** Takes an announcement from gossip (not ok: it is not authentic, reject it); `added`: a channel and node not listed before. */
  take(data: Uint8Array, now: number): CheckedAnnouncement & { readonly added?: boolean } {
    const checked = checkAnnouncement(data, now, this.#keys);
    return checked.ok ? { ...checked, added: this.add(checked.entry, now, checked.gone) } : checked;
  }

  /**
   * Keeps an entry (or, `gone`, a withdrawal) if it is newer than what is held; true when
   * it lists a channel and node that were not listed.
   */
  add(entry: DirectoryEntry, now: number, gone = false): boolean {
    const key = `${entry.channel}\0${entry.node}`;
    const known = this.#entries.get(key);
    if (known !== undefined && known.announced >= entry.announced) return false;
    if (known === undefined && this.#entries.size >= MAX_ENTRIES) this.expire(now);
    if (known === undefined && this.#entries.size >= MAX_ENTRIES) return false;
    this.#entries.set(key, { ...entry, gone });
    return !gone && (known === undefined || known.gone);
  }

  expire(now: number): void {
    for (const [key, entry] of this.#entries) if (entry.announced < now - ANNOUNCEMENT_LIFETIME_MS) this.#entries.delete(key);
  }

  /** Every live entry, by channel name, then most recently active first. */
  list(now: number): DirectoryEntry[] {
    this.expire(now);
    const listed: DirectoryEntry[] = [];
    for (const { gone, ...entry } of this.#entries.values()) if (!gone) listed.push(entry);
    return listed.sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : b.lastActivity - a.lastActivity));
  }
}
