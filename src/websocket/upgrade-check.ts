// Decides, from the HTTP upgrade request alone, whether a WebSocket may be opened and
// which of the protocols the node speaks it will carry (each protocol names its own
// subprotocol). Pure, so every answer is table-tested.

import type { HttpRefusalCode } from './refusals.ts';

/** The subprotocols a Sec-WebSocket-Protocol header offers, in order. */
export function offeredSubprotocols(header: string | undefined): string[] {
  if (header === undefined) return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** The first offered subprotocol the node speaks (the client's order is its preference). */
export function checkSubprotocol<P extends string>(
  header: string | undefined,
  spoken: readonly P[],
): { ok: true; protocol: P } | { ok: false; code: HttpRefusalCode } {
  const offered = offeredSubprotocols(header);
  if (offered.length === 0) return { ok: false, code: 'NO_SUBPROTOCOL' };
  for (const protocol of offered) {
    const match = spoken.find((p) => p === protocol);
    if (match !== undefined) return { ok: true, protocol: match };
  }
  return { ok: false, code: 'BAD_SUBPROTOCOL' };
}
