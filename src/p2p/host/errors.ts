// Why a p2p host could not start, as something the operator can fix: each has a stable
// code and a message that says what to change. The node exits 1 with the message.

export type P2PStartCode = 'ERR_P2P_ADDRESS' | 'ERR_P2P_LISTEN' | 'ERR_P2P_SECRET';

export class P2PStartError extends Error {
  readonly code: P2PStartCode;

  constructor(code: P2PStartCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** A find query that names nothing: neither a node id, a peer id nor a valid name. */
export class FindQueryError extends Error {}
