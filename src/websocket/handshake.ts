// The server side of the WebSocket opening handshake (RFC 6455 section 4.2): checks an
// upgrade request's headers and computes the accept value. Pure; the listener writes
// the response.

import { createHash } from 'node:crypto';
import type { HttpRefusalCode } from './refusals.ts';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a client's Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

export interface UpgradeHeaders {
  readonly method: string | undefined;
  readonly upgrade: string | undefined;
  readonly connection: string | undefined;
  readonly key: string | undefined;
  readonly version: string | undefined;
}

export type UpgradeCheck = { readonly ok: true; readonly accept: string } | { readonly ok: false; readonly code: HttpRefusalCode; readonly detail: string };

function hasToken(header: string | undefined, token: string): boolean {
  return (header ?? '').split(',').some((part) => part.trim().toLowerCase() === token);
}

export function checkUpgrade(headers: UpgradeHeaders): UpgradeCheck {
  if (headers.method !== 'GET') return { ok: false, code: 'BAD_UPGRADE', detail: 'method must be GET' };
  if (!hasToken(headers.upgrade, 'websocket')) return { ok: false, code: 'BAD_UPGRADE', detail: 'Upgrade must be websocket' };
  if (!hasToken(headers.connection, 'upgrade')) return { ok: false, code: 'BAD_UPGRADE', detail: 'Connection must include Upgrade' };
  if (headers.version !== '13') return { ok: false, code: 'BAD_VERSION', detail: 'Sec-WebSocket-Version must be 13' };
  const key = headers.key?.trim() ?? '';
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return { ok: false, code: 'BAD_UPGRADE', detail: 'Sec-WebSocket-Key must be 16 bytes in base64' };
  return { ok: true, accept: acceptKey(key) };
}
