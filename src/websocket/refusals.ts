// The one catalogue of refusals: every way the node turns a client away, with the
// stable code string used in logs and metrics, the WebSocket close code (or HTTP
// status before an upgrade) and the reason text sent to the client. docs and the
// README's close-code table are generated from this list, so keep them in sync here.

export const REFUSALS = {
  BAD_HEADER: { close: 4400, reason: 'bad header' },
  BAD_HELLO: { close: 4400, reason: 'bad hello' },
  AUTH_FAILED: { close: 4401, reason: 'auth failed' },
  HEADER_TIMEOUT: { close: 4408, reason: 'no header in time' },
  ALREADY_JOINED: { close: 4409, reason: 'uid already joined to channel' },
  READ_ONLY: { close: 4403, reason: 'channel is read-only' },
  TOO_SLOW: { close: 4429, reason: 'send buffer full: client too slow' },
  IDLE: { close: 1001, reason: 'no pong' },
  // Violations of RFC 6455 itself, found while reading frames (the reason says which).
  PROTOCOL_ERROR: { close: 1002, reason: 'protocol error' },
  BAD_UTF8: { close: 1007, reason: 'invalid UTF-8' },
  TOO_BIG: { close: 1009, reason: 'frame too big' },
  INTERNAL_ERROR: { close: 1011, reason: 'internal error' },
  SHUTDOWN: { close: 1001, reason: 'node shutting down' },
} as const;

export type RefusalCode = keyof typeof REFUSALS;

/** HTTP refusals answered before a WebSocket upgrade. */
export const HTTP_REFUSALS = {
  NO_SUBPROTOCOL: { status: 426, reason: 'Sec-WebSocket-Protocol must offer mles-websocket or parley.v1' },
  BAD_SUBPROTOCOL: { status: 400, reason: 'unsupported subprotocol: offer mles-websocket or parley.v1' },
  RATE_LIMITED: { status: 429, reason: 'too many connections from this address; retry later' },
  BAD_UPGRADE: { status: 400, reason: 'invalid WebSocket upgrade request' },
  BAD_VERSION: { status: 426, reason: 'unsupported WebSocket version: use 13' },
  PEERING_DISABLED: { status: 403, reason: 'this node accepts no peer links: start it with PEER_KEY or --trust' },
} as const;

export type HttpRefusalCode = keyof typeof HTTP_REFUSALS;
