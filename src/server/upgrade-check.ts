// Decides, from the HTTP upgrade request alone, whether a WebSocket may be opened and
// which protocol it speaks: Mles v2 or the native one. Pure, so every answer is
// table-tested.

import type { HttpRefusalCode } from '../protocol/errors.ts';
import { NATIVE_SUBPROTOCOL } from '../protocol/native.ts';

export const MLES_SUBPROTOCOL = 'mles-websocket';
export type Subprotocol = typeof MLES_SUBPROTOCOL | typeof NATIVE_SUBPROTOCOL;

/** The subprotocols a Sec-WebSocket-Protocol header offers, in order. */
export function offeredSubprotocols(header: string | undefined): string[] {
  if (header === undefined) return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** The first offered subprotocol the node speaks (the client's order is its preference). */
export function checkSubprotocol(header: string | undefined): { ok: true; protocol: Subprotocol } | { ok: false; code: HttpRefusalCode } {
  const offered = offeredSubprotocols(header);
  if (offered.length === 0) return { ok: false, code: 'NO_SUBPROTOCOL' };
  for (const protocol of offered) {
    if (protocol === MLES_SUBPROTOCOL || protocol === NATIVE_SUBPROTOCOL) return { ok: true, protocol };
  }
  return { ok: false, code: 'BAD_SUBPROTOCOL' };
}
