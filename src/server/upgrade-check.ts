// Decides, from the HTTP upgrade request alone, whether a WebSocket may be opened:
// the subprotocol must be offered. Pure, so every answer is table-tested.

import type { HttpRefusalCode } from '../protocol/errors.ts';

export const MLES_SUBPROTOCOL = 'mles-websocket';

/** The subprotocols a Sec-WebSocket-Protocol header offers, in order. */
export function offeredSubprotocols(header: string | undefined): string[] {
  if (header === undefined) return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

export function checkSubprotocol(header: string | undefined): { ok: true; protocol: string } | { ok: false; code: HttpRefusalCode } {
  const offered = offeredSubprotocols(header);
  if (offered.length === 0) return { ok: false, code: 'NO_SUBPROTOCOL' };
  if (!offered.includes(MLES_SUBPROTOCOL)) return { ok: false, code: 'BAD_SUBPROTOCOL' };
  return { ok: true, protocol: MLES_SUBPROTOCOL };
}
