// Mles auth: SipHash-2-4 with a zero key over uid ‖ channel ‖ MLES_KEY, as hex.
// The concatenation has no separators, so it is ambiguous; that is the wire
// protocol and clients compute it this way, so we keep it.

import { sipHash24 } from './siphash.ts';

const encoder = new TextEncoder();

/** The auth value a client must send, as 16 lowercase hex digits. */
export function mlesAuth(uid: string, channel: string, key: string | undefined): string {
  const hash = sipHash24(encoder.encode(uid + channel + (key ?? '')));
  return hash.toString(16).padStart(16, '0');
}

/**
 * Whether a header's auth is acceptable. With a key configured (even an empty one) auth
 * is required; without one, no auth passes but a present auth must still be right.
 */
export function authAccepted(
  uid: string,
  channel: string,
  auth: string | undefined,
  key: string | undefined,
): boolean {
  if (auth === undefined) return key === undefined;
  if (!isAuthText(auth)) return false;
  // Compared as a 64-bit number, as the reference does: case and leading zeros do not matter.
  return BigInt('0x' + auth) === BigInt('0x' + mlesAuth(uid, channel, key));
}

/**
 * Hex digits an auth may have: leading zeros are fine however many (the value is what
 * counts), but not without end, so that parsing one costs little.
 */
export const MAX_AUTH_DIGITS = 64;

/** Whether `auth` is written as an auth can be: 1 to MAX_AUTH_DIGITS hex digits. */
export function isAuthText(auth: string): boolean {
  return auth.length >= 1 && auth.length <= MAX_AUTH_DIGITS && /^[0-9a-fA-F]+$/.test(auth);
}
